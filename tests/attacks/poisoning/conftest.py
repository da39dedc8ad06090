"""Fixtures of the poisoning tests: a cheap learner and tiny seeded data."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression

import bastion
from bastion.models import SklearnModel, TorchModel, fit, zoo


def logistic_train_fn(dataset: bastion.Dataset) -> SklearnModel:
    """Multinomial logistic regression on the flattened features (fast, deterministic)."""
    x = dataset.x_train.reshape(len(dataset.x_train), -1)
    return SklearnModel(LogisticRegression(max_iter=500).fit(x, dataset.y_train), input_shape=dataset.input_shape)


def cnn_train_fn(dataset: bastion.Dataset) -> TorchModel:
    """small_cnn, 10 epochs at lr 3e-3 (what the backdoor tests train)."""
    module = zoo.small_cnn(dataset.input_shape, dataset.n_classes, seed=0)
    fit(module, dataset.x_train, dataset.y_train, epochs=10, lr=3e-3, seed=0, progress=False)
    return TorchModel(module, input_shape=dataset.input_shape, n_classes=dataset.n_classes)


@pytest.fixture()
def with_empty_class(digits_small) -> bastion.Dataset:
    """digits 0-3 declared with a fifth class, 4, that has no sample."""
    d = digits_small
    return bastion.Dataset.from_arrays(
        d.x_train, d.y_train, d.x_test, d.y_test, name="five classes", classes=("0", "1", "2", "3", "4")
    )
