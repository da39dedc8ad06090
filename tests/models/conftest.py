"""Tiny seeded models for the model-adapter tests (built in milliseconds, untrained)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

from bastion.models import TorchModel, zoo

SHAPE = (1, 4, 4)


@pytest.fixture()
def tiny_module():
    """An untrained seeded small_cnn on ``(1, 4, 4)`` inputs with 3 classes."""
    return zoo.small_cnn(SHAPE, 3, channels=(4, 4), hidden=8, seed=0)


@pytest.fixture()
def tiny_model(tiny_module) -> TorchModel:
    """``tiny_module`` as a TorchModel on [0, 1]."""
    return TorchModel(tiny_module, input_shape=SHAPE, n_classes=3)


@pytest.fixture()
def tiny_x() -> np.ndarray:
    """Five uniform inputs of shape ``(1, 4, 4)`` in [0, 1]."""
    return np.random.default_rng(0).random((5, *SHAPE), dtype=np.float32)


def export(module: torch.nn.Module, shape: tuple[int, ...]) -> bytes:
    """ONNX bytes from torch's legacy (TorchScript) exporter, with a dynamic batch axis."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module.eval(),
            torch.zeros(1, *shape),
            buffer,
            dynamo=False,
            input_names=["x"],
            output_names=["out"],
            dynamic_axes={"x": {0: "n"}, "out": {0: "n"}},
        )
    return buffer.getvalue()
