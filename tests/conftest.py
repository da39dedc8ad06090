"""Shared fixtures: small seeded datasets and models, trained once per test session."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import bastion
from bastion.models import SklearnModel, TorchModel, fit, zoo

# Two pytest-xdist workers share two cores: one thread each avoids oversubscription.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits() -> bastion.Dataset:
    """scikit-learn digits, ``(n, 1, 8, 8)`` in [0, 1], split with seed 0."""
    return bastion.load("digits", seed=0)


@pytest.fixture(scope="session")
def digits_small(digits) -> bastion.Dataset:
    """digits restricted to classes 0-3 (about 540 training images): poisoning tests train on it."""
    train, test = digits.y_train < 4, digits.y_test < 4
    return bastion.Dataset.from_arrays(
        digits.x_train[train], digits.y_train[train], digits.x_test[test], digits.y_test[test], name="digits 0-3"
    )


@pytest.fixture(scope="session")
def breast_cancer() -> bastion.Dataset:
    """The breast-cancer table, min-max scaled on the training split."""
    return bastion.load("breast_cancer", seed=0)


@pytest.fixture(scope="session")
def digits_cnn(digits) -> TorchModel:
    """A small_cnn trained for 15 epochs on digits (about 98% test accuracy)."""
    module = fit(
        zoo.small_cnn(digits.input_shape, digits.n_classes, seed=0),
        digits.x_train,
        digits.y_train,
        epochs=15,
        seed=0,
        progress=False,
    )
    return TorchModel(module, input_shape=digits.input_shape, n_classes=digits.n_classes)


@pytest.fixture(scope="session")
def digits_mlp(digits) -> TorchModel:
    """A one-hidden-layer MLP trained for 20 epochs on digits (about 97% test accuracy)."""
    module = fit(
        zoo.mlp(digits.input_shape, digits.n_classes, hidden=(64,), seed=0),
        digits.x_train,
        digits.y_train,
        epochs=20,
        seed=0,
        progress=False,
    )
    return TorchModel(module, input_shape=digits.input_shape, n_classes=digits.n_classes)


@pytest.fixture(scope="session")
def breast_cancer_logistic(breast_cancer) -> SklearnModel:
    """scikit-learn binary logistic regression on breast_cancer, as a black-box model."""
    estimator = LogisticRegression(max_iter=2000).fit(breast_cancer.x_train, breast_cancer.y_train)
    return SklearnModel(estimator)


@pytest.fixture()
def rng() -> np.random.Generator:
    """A seeded numpy generator for test data."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def traffic_train():
    """6,000 synthetic web requests with 2% path-traversal attacks (in campaigns), seed 0."""
    from bastion.data import http_traffic

    return http_traffic(6000, attack_rate=0.02, attack_kinds=("traversal",), seed=0)


@pytest.fixture(scope="session")
def traffic_test():
    """A held-out stream of the same site: 3,000 requests, 5% traversal attacks, seed 1."""
    from bastion.data import http_traffic

    return http_traffic(3000, attack_rate=0.05, attack_kinds=("traversal",), seed=1)
