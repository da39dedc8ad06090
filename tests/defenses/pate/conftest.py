"""PATE fixtures: a private/public split of digits and ten small support-vector teachers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.svm import SVC

from bastion.defenses.pate import PATE, GNMax


@dataclass(frozen=True)
class Split:
    """Private data for the teachers, public data for the student's queries, a test set."""

    x_private: np.ndarray
    y_private: np.ndarray
    x_public: np.ndarray
    y_public: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@pytest.fixture(scope="session")
def split(digits) -> Split:
    """600 private digits, the other 747 training digits as public data, the test split."""
    return Split(
        digits.x_train[:600],
        digits.y_train[:600],
        digits.x_train[600:],
        digits.y_train[600:],
        digits.x_test,
        digits.y_test,
    )


@pytest.fixture(scope="session")
def fitted_pate(split) -> PATE:
    """Ten support-vector teachers on disjoint 60-sample shards, GNMax(sigma=2)."""
    pate = PATE(
        teacher_factory=SVC(C=10), n_teachers=10, aggregator=GNMax(2.0), backend="serial", seed=0, progress=False
    )
    return pate.fit(split.x_private, split.y_private)


@pytest.fixture()
def pinned_votes() -> np.ndarray:
    """Six 250-teacher vote histograms (10 classes) whose costs are pinned to the authors' analysis code."""
    return np.array(
        [
            [231, 4, 3, 2, 2, 2, 2, 2, 1, 1],
            [120, 98, 10, 5, 5, 4, 3, 2, 2, 1],
            [250, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            [60, 55, 40, 30, 20, 15, 10, 10, 5, 5],
            [0, 0, 3, 190, 50, 2, 1, 1, 1, 2],
            [5, 212, 8, 5, 5, 5, 4, 3, 2, 1],
        ]
    )
