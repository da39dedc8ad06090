"""``bastion.assess`` from Python: cells the model cannot run are skipped with the reason."""

from __future__ import annotations

import json

import pytest
import torch

from bastion.assess import AssessWarning, assess
from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import TorchModel

# Only the cheap, capability-dependent cells: no defense training, no LiRA, no PATE, no poisoning.
SMALL = {
    "samples": 20,
    "evasion": {
        "eps": [0.1],
        "headline_eps": 0.1,
        "attacks": ["fgsm", "square"],
        "defenses": ["adversarial_training"],
        "queries": 20,
        "diagnostics": False,
        "examples": 2,
    },
    "duplication": {
        "budgets": [40],
        "policies": ["probabilities"],
        "substitute_epochs": 2,
        "membership": ["loss"],
        "pate_sigmas": [],
    },
    "poisoning": {"enabled": False},
}


def test_a_black_box_model_skips_white_box_cells_with_the_reason(breast_cancer_logistic, breast_cancer, tmp_path):
    result = assess(breast_cancer_logistic, breast_cancer, config=SMALL, backend="serial", cache=False)
    status = {r["id"]: (r["status"], r["reason"]) for r in result.records}
    assert status["evasion/adversarial_training"][0] == "skipped"
    assert "torch zoo model" in status["evasion/adversarial_training"][1]
    assert status["evasion/undefended"][0] == "ok"
    undefended = next(r for r in result.records if r["id"] == "evasion/undefended")["result"]
    assert undefended["attacks"] == ["square"] and undefended["attacks_skipped"] == {"fgsm": "needs gradients"}
    assert status["duplication/equation_solving"][0] == "ok"
    assert result.metrics()["extraction_fidelity[equation_solving]"] > 0.99
    folder = result.write_report(tmp_path)
    assert json.loads((folder / "results.json").read_text())["counts"]["failed"] == 0


def test_a_model_that_cannot_be_saved_runs_serially_with_a_warning(digits):
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    model = TorchModel(module, input_shape=digits.input_shape, n_classes=10)
    config = {**SMALL, "evasion": {**SMALL["evasion"], "defenses": []}, "duplication": {"enabled": False}}
    with pytest.warns(AssessWarning, match="backend='serial'"):
        result = assess(model, digits, config=config, backend="local", cache=False)
    # An untrained module: the robustness cell runs; the examples figure has no correct input to show.
    assert {r["id"]: r["status"] for r in result.records}["evasion/undefended"] == "ok"


def test_a_model_that_does_not_fit_the_data_is_refused(digits_mlp, breast_cancer):
    with pytest.raises(ValidationError, match="expects samples of shape"):
        assess(digits_mlp, breast_cancer, config=SMALL, cache=False)


def test_a_non_model_is_refused(digits):
    with pytest.raises(InputTypeError, match="`model` must be a bastion Model"):
        assess(object(), digits, cache=False)
