"""A model trained once through `bastion train`, shared by the CLI tests."""

from __future__ import annotations

import warnings

import pytest
import torch
from typer.testing import CliRunner

from bastion.cli import app
from bastion.models import io


def invoke(*args: str):
    """Run the bastion CLI in-process; stdout and stderr both land in ``result.output``."""
    return CliRunner().invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="session")
def trained_folder(tmp_path_factory):
    """An MLP trained on digits for 5 epochs by the CLI, saved in a temporary folder."""
    folder = tmp_path_factory.mktemp("cli") / "model"
    result = invoke("train", "--data", "digits", "--arch", "mlp", "--epochs", "5", "--no-progress", "--out", folder)
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="session")
def onnx_file(trained_folder, tmp_path_factory):
    """The trained model exported to ONNX by torch's legacy exporter (dynamic batch axis)."""
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            io.load(trained_folder).module,
            torch.zeros(1, 1, 8, 8),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
        )
    return path
