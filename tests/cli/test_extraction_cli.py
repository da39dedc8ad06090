"""``bastion attack extract`` end to end on a model saved by ``bastion train``."""

from __future__ import annotations

import json

from sklearn.tree import DecisionTreeClassifier
from tests.cli.conftest import invoke

from bastion.models import SklearnModel, io


def test_knockoff_reports_fidelity_within_the_budget(trained_folder, tmp_path):
    out = tmp_path / "result.json"
    result = invoke(
        "attack",
        "extract",
        "--model",
        trained_folder,
        "--method",
        "knockoff",
        "--budget",
        "300",
        "--epochs",
        "10",
        "--json",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "300 / 300" in result.output
    record = json.loads(out.read_text())
    assert record["queries_used"] == 300
    assert record["fidelity"] > 0.6


def test_label_only_jacobian_reports_the_transfer_rate(trained_folder):
    result = invoke(
        "attack",
        "extract",
        "--model",
        trained_folder,
        "--method",
        "jacobian",
        "--budget",
        "200",
        "--rounds",
        "1",
        "--epochs",
        "5",
        "--label-only",
    )
    assert result.exit_code == 0, result.output
    assert "transfer rate" in result.output
    assert "labels only" in result.output


def test_budget_below_the_minimum_fails_with_one_line(trained_folder):
    result = invoke("attack", "extract", "--model", trained_folder, "--method", "equation-solving", "--budget", "10")
    assert result.exit_code == 2
    assert "--budget must be at least 65" in result.output


def test_equation_solving_on_a_label_only_target_names_scores(trained_folder):
    result = invoke(
        "attack", "extract", "--model", trained_folder, "--method", "equation-solving", "--budget", "65", "--label-only"
    )
    assert result.exit_code == 2
    assert "'scores'" in result.output


def test_unknown_method_is_refused(trained_folder):
    result = invoke("attack", "extract", "--model", trained_folder, "--method", "magic")
    assert result.exit_code == 2
    assert "`--method` must be one of 'knockoff', 'jacobian', 'equation-solving', 'path-finding'" in result.output


def test_path_finding_extracts_a_saved_tree(breast_cancer, tmp_path):
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(breast_cancer.x_train, breast_cancer.y_train)
    folder = io.save(SklearnModel(tree), tmp_path / "tree")
    result = invoke(
        "attack",
        "extract",
        "--model",
        folder,
        "--data",
        "breast_cancer",
        "--method",
        "path-finding",
        "--budget",
        "5000",
        "--trust-type",
        "sklearn.tree._tree.Tree",
    )
    assert result.exit_code == 0, result.output
    assert "100.00%" in result.output


def test_knockoff_runs_against_an_onnx_file(onnx_file):
    result = invoke(
        "attack", "extract", "--model", onnx_file, "--method", "knockoff", "--budget", "150", "--epochs", "3"
    )
    assert result.exit_code == 0, result.output
    assert "150 / 150" in result.output


def test_extract_shows_the_targets_accuracy_and_ends_with_a_verdict(onnx_file):
    result = invoke(
        "attack", "extract", "--model", onnx_file, "--method", "knockoff", "--budget", "150", "--epochs", "3"
    )
    assert result.exit_code == 0, result.output
    assert "stolen copy / target" in result.output
    assert "scores" in result.output
    last = " ".join(result.output.split("\n")[-3:])
    assert "queries:" in last
