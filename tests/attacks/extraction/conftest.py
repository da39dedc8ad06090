"""Fixtures of the extraction tests: an attacker's pool and a held-out evaluation split."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from bastion.models import SklearnModel


@pytest.fixture(scope="session")
def digits_split(digits):
    """The attacker's unlabeled pool (300 test images) and a disjoint evaluation set.

    The target was trained on ``digits.x_train``: the attacker's data never overlaps it.
    """
    return {
        "pool": digits.x_test[:300],
        "x_eval": digits.x_test[300:],
        "y_eval": digits.y_test[300:],
    }


@pytest.fixture(scope="session")
def digits_logistic(digits) -> SklearnModel:
    """Multinomial logistic regression on the digits pixels, as a black-box model."""
    x = digits.x_train.reshape(len(digits.x_train), -1)
    estimator = LogisticRegression(max_iter=500).fit(x, digits.y_train)
    return SklearnModel(estimator, input_shape=digits.input_shape)


@pytest.fixture()
def seed_set(digits):
    """Ten test images of each digit: the Jacobian attacker's seed set."""
    rng = np.random.default_rng(0)
    picks = [rng.choice(np.flatnonzero(digits.y_test[:300] == c), 10, replace=False) for c in range(10)]
    return digits.x_test[:300][np.concatenate(picks)]
