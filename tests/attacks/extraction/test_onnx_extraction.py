"""Extraction runs unchanged against an ONNX model served by onnxruntime (black-box)."""

from __future__ import annotations

import pytest
import torch
from tests.models.conftest import export

from bastion.attacks.extraction import EquationSolving, KnockoffNets
from bastion.models import OnnxModel, zoo


def onnx_model(module: torch.nn.Module, shape: tuple[int, ...]) -> OnnxModel:
    return OnnxModel(export(module, shape))


@pytest.fixture(scope="module")
def onnx_mlp(digits_mlp, digits) -> OnnxModel:
    return onnx_model(digits_mlp.module, digits.input_shape)


def test_knockoff_steals_an_onnx_model_within_budget(onnx_mlp, digits_split):
    result = KnockoffNets(digits_split["pool"], epochs=15).extract(
        onnx_mlp, budget=250, x_eval=digits_split["x_eval"], y_eval=digits_split["y_eval"]
    )
    assert onnx_mlp.queries == result.queries_used == 250
    assert result.fidelity > 0.6


def test_equation_solving_recovers_an_onnx_softmax_regression(digits):
    target = onnx_model(zoo.mlp(digits.input_shape, 10, hidden=(), seed=0), digits.input_shape)
    result = EquationSolving().extract(target, budget=65, x_eval=digits.x_test)
    assert target.queries == 65
    assert result.fidelity == 1.0
    assert result.confidence_error_max < 1e-4
