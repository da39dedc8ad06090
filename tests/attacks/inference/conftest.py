"""Membership fixtures: an overfit and a regularised digits MLP on the same 150 members.

The attacker's pool is the rest of the digits training split (disjoint from the members);
non-members are the test split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.svm import SVC

from bastion.attacks.inference import LiRA, ShadowModels, train_like
from bastion.models import SklearnModel, TorchModel, fit, zoo

N_MEMBERS = 150
OVERFIT = {"epochs": 300, "lr": 1e-2, "batch_size": N_MEMBERS, "weight_decay": 0.0}
REGULARISED = {"epochs": 20, "lr": 1e-2, "batch_size": N_MEMBERS, "weight_decay": 1e-2}


@dataclass(frozen=True)
class MembershipSplit:
    x_members: np.ndarray
    y_members: np.ndarray
    x_nonmembers: np.ndarray
    y_nonmembers: np.ndarray
    x_pool: np.ndarray
    y_pool: np.ndarray


@pytest.fixture(scope="session")
def membership_split(digits) -> MembershipSplit:
    order = np.random.default_rng(0).permutation(len(digits.x_train))
    members, pool = order[:N_MEMBERS], order[N_MEMBERS:]
    return MembershipSplit(
        x_members=digits.x_train[members],
        y_members=digits.y_train[members],
        x_nonmembers=digits.x_test,
        y_nonmembers=digits.y_test,
        x_pool=digits.x_train[pool],
        y_pool=digits.y_train[pool],
    )


def _train(digits, split: MembershipSplit, schedule: dict) -> TorchModel:
    module = zoo.mlp(digits.input_shape, digits.n_classes, hidden=(128,), seed=0)
    fit(module, split.x_members, split.y_members, seed=0, progress=False, **schedule)
    return TorchModel(module, input_shape=digits.input_shape, n_classes=digits.n_classes)


@pytest.fixture(scope="session")
def overfit_mlp(digits, membership_split) -> TorchModel:
    """300 full-batch epochs on 150 records, no weight decay: 100% train accuracy."""
    return _train(digits, membership_split, OVERFIT)


@pytest.fixture(scope="session")
def regularised_mlp(digits, membership_split) -> TorchModel:
    """Stopped early at 20 epochs, with weight decay 0.01, on the same records."""
    return _train(digits, membership_split, REGULARISED)


@pytest.fixture(scope="session")
def fitted_lira(overfit_mlp, membership_split) -> LiRA:
    attack = LiRA(train_fn=train_like(overfit_mlp, **OVERFIT), n_reference=8, reference_size=N_MEMBERS, seed=0)
    return attack.fit(overfit_mlp, membership_split.x_pool, membership_split.y_pool)


@pytest.fixture(scope="session")
def fitted_shadow(overfit_mlp, membership_split) -> ShadowModels:
    attack = ShadowModels(train_fn=train_like(overfit_mlp, **OVERFIT), n_shadow=4, shadow_size=N_MEMBERS, seed=0)
    return attack.fit(overfit_mlp, membership_split.x_pool, membership_split.y_pool)


@pytest.fixture(scope="session")
def label_only_model(breast_cancer):
    """An SVC (no probability estimates by default): it answers labels only."""
    return SklearnModel(SVC().fit(breast_cancer.x_train, breast_cancer.y_train))
