"""`bastion evaluate robustness`: several models compared, --trust-type, the black-box ensemble."""

from __future__ import annotations

import json
from types import SimpleNamespace

from sklearn.tree import DecisionTreeClassifier

from bastion.cli.robustness import compare_verdict
from bastion.models import SklearnModel, io

from .conftest import invoke


def robustness(*args):
    return invoke("evaluate", "robustness", "--no-diagnostics", "--no-progress", *args)


def test_several_models_give_one_comparison_table_one_verdict_and_one_plot(trained_folder, onnx_file, tmp_path):
    result = robustness(
        "--model",
        trained_folder,
        "--model",
        onnx_file,
        "--eps",
        "0.1",
        "--version",
        "fast",
        "--n-samples",
        "10",
        "--plot",
        tmp_path / "compare.png",
        "--json",
        tmp_path / "r.json",
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "2 models on digits (10 test samples, Linf)" in text
    # The ONNX copy has the same weights: no model helped.
    assert "the models are within 2 points of each other: none helped clearly" in text
    assert (tmp_path / "compare.png").stat().st_size > 0
    record = json.loads((tmp_path / "r.json").read_text())
    assert [entry["model"] for entry in record["models"]] == [str(trained_folder), str(onnx_file)]


def test_comparison_verdict_names_the_model_that_holds_up_best():
    def curve(accuracy, masking=False):
        return SimpleNamespace(
            eps=(0.1, 0.2), robust_accuracy=accuracy, norm="inf", n_samples=100, gradient_masking=masking
        )

    verdict = compare_verdict({"model/": curve((0.2, 0.03)), "at-pgd/": curve((0.8, 0.64))})
    assert verdict == (
        "At eps 0.2 (Linf) at-pgd/ keeps 64% robust accuracy against model/ 3% (100 samples): at-pgd/ holds up best"
    )
    masked = compare_verdict({"model/": curve((0.2, 0.03)), "distilled/": curve((0.9, 0.9), masking=True)})
    assert "distilled/ holds up best (gradient masking suspected on it" in masked


def test_a_model_without_gradients_runs_the_black_box_ensemble_with_a_note(tmp_path, digits):
    flat = digits.x_train.reshape(len(digits.x_train), -1)
    tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(flat, digits.y_train)
    folder = io.save(SklearnModel(tree, input_shape=(1, 8, 8)), tmp_path / "tree")
    refused = robustness("--model", folder, "--eps", "0.1", "--n-samples", "10")
    assert refused.exit_code == 2 and "--trust-type NAME" in refused.output
    result = robustness(
        "--model", folder, "--eps", "0.5", "--n-samples", "5", "--trust-type", "sklearn.tree._tree.Tree"
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "offers no gradients, so the black-box ensemble runs on it (--version blackbox)" in text
    assert "blackbox ensemble" in text and "square" in text and "hopskipjump" in text
