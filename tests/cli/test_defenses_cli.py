"""`bastion defend adversarial-training`, `bastion defend distill` and `bastion evaluate robustness`."""

from __future__ import annotations

import json

import pytest

from bastion.cli.robustness import parse_eps
from bastion.exceptions import ValidationError
from bastion.models import TorchModel, io

from .conftest import invoke


@pytest.fixture(scope="module")
def hardened_folder(tmp_path_factory):
    """An MLP adversarially trained by the CLI for 2 epochs (FGSM-RS), with its JSON history."""
    folder = tmp_path_factory.mktemp("defend") / "at"
    history = folder.parent / "history.json"
    result = invoke(
        "defend",
        "adversarial-training",
        "--data",
        "digits",
        "--arch",
        "mlp",
        "--method",
        "fgsm_rs",
        "--eps",
        "0.1",
        "--epochs",
        "2",
        "--lr-schedule",
        "cyclic",
        "--no-progress",
        "--out",
        folder,
        "--json",
        history,
    )
    assert result.exit_code == 0, result.output
    return folder, result.output, json.loads(history.read_text())


def test_adversarial_training_prints_epochs_and_saves_a_loadable_model(hardened_folder):
    folder, output, history = hardened_folder
    for field in ("epoch", "clean loss", "adv. loss", "clean test accuracy", "saved to"):
        assert field in output
    assert [r["epoch"] for r in history["history"]] == [1, 2]
    assert history["method"] == "fgsm_rs" and history["catastrophic_overfitting"] is False
    assert isinstance(io.load(folder), TorchModel)
    assert io.recorded_accuracy(folder) == pytest.approx(history["test_accuracy"])


def test_distill_saves_the_student_and_reports_saturation(tmp_path):
    folder = tmp_path / "distilled"
    result = invoke(
        "defend",
        "distill",
        "--data",
        "digits",
        "--arch",
        "mlp",
        "--temperature",
        "20",
        "--epochs",
        "2",
        "--no-progress",
        "--out",
        folder,
    )
    assert result.exit_code == 0, result.output
    assert "student test accuracy (T = 1)" in result.output and "saturated softmax" in result.output
    assert io.load(folder).n_classes == 10
    assert 0 < io.recorded_accuracy(folder) <= 1


def test_evaluate_robustness_prints_the_table_writes_json_and_plot(trained_folder, tmp_path):
    result = invoke(
        "evaluate",
        "robustness",
        "--model",
        trained_folder,
        "--data",
        "digits",
        "--eps",
        "0.2,0.05",
        "--n-samples",
        "12",
        "--no-diagnostics",
        "--version",
        "fast",
        "--json",
        tmp_path / "r.json",
        "--plot",
        tmp_path / "r.png",
    )
    assert result.exit_code == 0, result.output
    for field in ("robust", "apgd-ce", "apgd-dlr", "square", "0 (clean)", "checks skipped", "fast ensemble"):
        assert field in result.output
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["eps"] == [0.05, 0.2] and record["n_samples"] == 12
    assert record["robust_accuracy"][1] <= record["robust_accuracy"][0] <= record["clean_accuracy"]
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("defend", "adversarial-training", "--method", "free"), "--method must be one of"),
        (("defend", "adversarial-training", "--eps", "-0.1"), "--eps must be a float in [0, inf)"),
        (("defend", "distill", "--temperature", "0"), "--temperature must be a float in (0, inf), got 0.0"),
    ],
)
def test_bad_hyperparameters_exit_with_a_clear_error(args, message, tmp_path):
    result = invoke(*args, "--no-progress", "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_evaluate_robustness_runs_the_standard_ensemble_by_default(trained_folder):
    result = invoke(
        "evaluate", "robustness", "--model", trained_folder, "--eps", "0.3", "--n-samples", "4", "--no-diagnostics"
    )
    assert result.exit_code == 0, result.output
    assert "standard ensemble" in result.output and "apgd-ce" in result.output


def test_unknown_version_exits_with_a_clear_error(trained_folder):
    result = invoke("evaluate", "robustness", "--model", trained_folder, "--eps", "0.1", "--version", "plus")
    assert result.exit_code == 2
    assert "`--version` must be one of 'standard', 'fast', 'blackbox', got 'plus'" in result.output


def test_eps_list_must_be_numbers(trained_folder):
    assert parse_eps("0.05,0.1") == [0.05, 0.1]
    with pytest.raises(ValidationError, match="comma-separated numbers"):
        parse_eps("0.05;0.1")
    result = invoke("evaluate", "robustness", "--model", trained_folder, "--eps", "small")
    assert result.exit_code == 2 and "`--eps` must be comma-separated numbers" in result.output
