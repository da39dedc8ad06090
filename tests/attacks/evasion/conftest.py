"""Tiny models for the evasion tests: built in microseconds, seeded, white-box."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from bastion.models import TorchModel, zoo

TINY_SHAPE = (1, 4, 4)


def build_tiny_model(
    *, n_classes: int = 4, clip: tuple[float, float] = (0.0, 1.0), preprocessing=None, seed: int = 0
) -> TorchModel:
    """An untrained seeded MLP on ``(1, 4, 4)`` inputs."""
    module = zoo.mlp(TINY_SHAPE, n_classes, hidden=(8,), seed=seed)
    return TorchModel(module, input_shape=TINY_SHAPE, n_classes=n_classes, clip=clip, preprocessing=preprocessing)


def tiny_inputs(model: TorchModel, n: int, seed: int) -> np.ndarray:
    """``n`` uniform inputs inside the model's clip range."""
    low, high = model.clip
    return np.random.default_rng(seed).uniform(low, high, size=(n, *model.input_shape)).astype(np.float32)


def linear_binary_model(weights: np.ndarray, bias: tuple[float, float] = (0.0, 0.0)) -> TorchModel:
    """A two-output ``nn.Linear`` with the given ``(2, d)`` weights, on ``(d,)`` inputs in [0, 1]."""
    layer = nn.Linear(weights.shape[1], 2)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weights, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return TorchModel(layer, input_shape=(weights.shape[1],), n_classes=2)


def linear_model(*, n_classes: int, n_features: int, seed: int) -> tuple[TorchModel, np.ndarray]:
    """A seeded multi-class ``nn.Linear`` on ``(n_features,)`` inputs in [0, 1], and its weights."""
    generator = np.random.default_rng(seed)
    weights = generator.normal(size=(n_classes, n_features)).astype(np.float32)
    layer = nn.Linear(n_features, n_classes)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weights))
        layer.bias.copy_(torch.as_tensor(0.1 * generator.normal(size=n_classes).astype(np.float32)))
    return TorchModel(layer, input_shape=(n_features,), n_classes=n_classes), weights


@pytest.fixture(scope="session")
def make_tiny_model() -> Callable[..., TorchModel]:
    """A factory of tiny models (session-scoped, so hypothesis tests may use it)."""
    return build_tiny_model


@pytest.fixture()
def linear_weights() -> np.ndarray:
    """Seeded ``(2, 6)`` weights with no zero difference between the rows."""
    weights = np.random.default_rng(0).normal(size=(2, 6)).astype(np.float32)
    assert np.all(weights[1] != weights[0])
    return weights
