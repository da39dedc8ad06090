"""The model-file section: the scan of the assessed model's files, as a cell, a summary row and metrics."""

from __future__ import annotations

import pickle

import pytest
from tests.scan.corpus import _System

from bastion.assess.config import make_config
from bastion.assess.registry import CellUnavailableError
from bastion.assess.runner import CellContext
from bastion.assess.sections import model_file
from bastion.assess.target import Target, make_target
from bastion.models import TorchModel, zoo


@pytest.fixture()
def target(digits) -> Target:
    module = zoo.mlp(digits.input_shape, digits.n_classes, hidden=(8,), seed=0)
    return make_target(TorchModel(module, input_shape=digits.input_shape, n_classes=digits.n_classes), digits)


def _run(target: Target) -> dict:
    (cell,) = model_file.plan(make_config(None, quick=True), None)
    context = CellContext(cell=cell, seed=0, config=make_config(None, quick=True), target=target, timing={})
    return model_file.scan_cell(context)


def _records(result: dict) -> list[dict]:
    return [{"status": "ok", "function": model_file.FUNCTION, "result": result}]


def test_saved_model_gets_a_clean_bill_with_the_checks_that_ran(target):
    result = _run(target)
    assert result["clean"] and result["findings"] == []
    (row,) = model_file.summarize(_records(result), None)
    assert "finds nothing wrong" in row["verdict"] and "bastion spec and SHA-256" in row["verdict"]
    assert row["technique"] == "AML.T0011.000" and row["mitigation"] == "AML.M0016"
    assert model_file.metrics(_records(result), None)["model_file_findings@high"] == 0


def test_a_malicious_file_among_the_model_files_is_reported(target, tmp_path):
    files = {**target.files, "extra.pkl": pickle.dumps(_System(tmp_path / "MARKER"), protocol=2)}
    result = _run(Target(dataset=target.dataset, sha256=target.sha256, files=files))
    assert result["max_severity"] == "critical" and not (tmp_path / "MARKER").exists()
    (row,) = model_file.summarize(_records(result), None)
    assert "worst critical" in row["verdict"] and any("extra.pkl" in note for note in row["notes"])
    assert model_file.metrics(_records(result), None)["model_file_findings@critical"] == 1
    (figure,) = model_file.make_figures(_records(result), None)
    assert "extra.pkl" in figure.markup


def test_a_model_without_files_is_skipped_with_the_reason(target):
    with pytest.raises(CellUnavailableError, match="no file to scan"):
        _run(Target(dataset=target.dataset, sha256=target.sha256, files=None, model=object()))
