"""CLI errors speak the CLI: library argument names and Python-only fixes become flags."""

from __future__ import annotations

import warnings

import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from bastion.cli.messages import cli_message
from bastion.models import SklearnModel, io

from .conftest import invoke


def one_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def evasion(model, *args):
    return invoke("attack", "evasion", "--model", model, "--n-samples", "5", "--no-progress", *args)


def test_unknown_dataset_names_the_data_flag(trained_folder):
    line = one_line(evasion(trained_folder, "--attack", "fgsm", "--eps", "0.1", "--data", "nosuch"))
    assert "--data must be one of" in line and "name_or_path" not in line


def test_missing_npz_names_the_data_flag(trained_folder, tmp_path):
    line = one_line(evasion(trained_folder, "--attack", "fgsm", "--eps", "0.1", "--data", tmp_path / "missing.npz"))
    assert "--data must be an existing .npz file" in line and "`path`" not in line


def test_missing_model_names_the_model_flag(tmp_path):
    line = one_line(evasion(tmp_path / "missing", "--attack", "fgsm", "--eps", "0.1"))
    assert "--model must be an existing model file or folder" in line and "`path`" not in line


def test_untrusted_skops_types_point_to_trust_type(tmp_path, digits):
    flat = digits.x_train[:200].reshape(200, -1)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(flat, digits.y_train[:200])
    folder = io.save(SklearnModel(tree, input_shape=(1, 8, 8)), tmp_path / "tree")
    line = one_line(evasion(folder, "--attack", "square", "--eps", "0.1"))
    assert "pass --trust-type NAME for each of these names" in line and "trusted=" not in line


def test_state_dict_points_to_a_model_folder_not_spec(tmp_path, trained_folder):
    torch.save(io.load(trained_folder).module.state_dict(), tmp_path / "weights.pt")
    line = one_line(evasion(tmp_path / "weights.pt", "--attack", "fgsm", "--eps", "0.1"))
    assert "pass --model FOLDER" in line and "spec=" not in line


def test_whole_pickled_module_is_diagnosed_with_cli_fixes(tmp_path, trained_folder):
    torch.save(io.load(trained_folder).module, tmp_path / "whole.pt")
    line = one_line(evasion(tmp_path / "whole.pt", "--attack", "fgsm", "--eps", "0.1"))
    assert "a pickled module (the whole nn.Module object" in line and "never unpickles" in line
    assert "--model FOLDER" in line and "--trust-code" in line and "spec=" not in line
    assert "a state dict holds" not in line


def test_torchscript_points_to_trust_code(tmp_path, trained_folder):
    module = io.load(trained_folder).module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.trace(module, torch.zeros(1, 1, 8, 8)), str(tmp_path / "model.pt"))
    line = one_line(evasion(tmp_path / "model.pt", "--attack", "fgsm", "--eps", "0.1"))
    assert "pass --trust-code" in line and "trust_code=True" not in line


def test_gradient_attack_on_a_black_box_model_names_the_black_box_attacks(tmp_path, digits):
    flat = digits.x_train[:200].reshape(200, -1)
    estimator = LogisticRegression(max_iter=200).fit(flat, digits.y_train[:200])
    folder = io.save(SklearnModel(estimator, input_shape=(1, 8, 8)), tmp_path / "sk")
    line = one_line(evasion(folder, "--attack", "pgd", "--eps", "0.1"))
    assert "--attack square or --attack hopskipjump" in line and "SquareAttack" not in line
    assert "--attack pgd needs a model with 'gradients'" in line


def test_shadow_models_on_an_onnx_target_point_to_methods_that_train_none(onnx_file):
    result = invoke("attack", "membership", "--model", onnx_file, "--method", "shadow", "--no-progress")
    line = one_line(result)
    assert "use --method loss or --method confidence" in line and "train_fn" not in line


def test_a_library_argument_name_becomes_the_commands_flag(tmp_path):
    line = one_line(invoke("train", "--epochs", "0", "--out", tmp_path / "m"))
    assert "--epochs must be an int in [1, inf), got 0" in line


def test_a_non_number_for_a_float_flag_is_one_line(trained_folder):
    line = one_line(evasion(trained_folder, "--attack", "fgsm", "--eps", "lots"))
    assert line.startswith("error: Invalid value for '--eps'")


@pytest.mark.parametrize(
    ("library", "cli"),
    [
        ("robustness(version='standard') needs a model with", "`bastion evaluate robustness --version standard`"),
        ("`n_samples` must be an int", "--n-samples must be an int"),
        ("Use OnnxModel for black-box attacks instead", "in `bastion evaluate robustness`, --version blackbox"),
        ("`unknown_thing` must be", "`unknown_thing` must be"),
    ],
)
def test_cli_message_rewrites_names_the_command_has_and_leaves_others(library, cli):
    assert cli in cli_message(library, {"n_samples": "--n-samples"})


def test_attack_class_names_become_attack_flags_only_where_there_is_an_attack_flag():
    text = "SquareAttack needs a model with 'scores'"
    assert cli_message(text, {"attack": "--attack"}).startswith("--attack square needs")
    assert cli_message(text, {"method": "--method"}) == text
