"""`bastion train`: trains, reports, saves a model that loads back; clear errors."""

from __future__ import annotations

from bastion.models import TorchModel, io

from .conftest import invoke


def test_train_saves_a_model_that_loads_and_classifies_digits(trained_folder, digits):
    assert (trained_folder / "weights.safetensors").is_file() and (trained_folder / "model.json").is_file()
    model = io.load(trained_folder)
    assert isinstance(model, TorchModel) and model.module.arch == "mlp"
    assert (model.predict(digits.x_test) == digits.y_test).mean() > 0.85


def test_train_prints_accuracies_and_where_it_saved(tmp_path):
    result = invoke(
        "train", "--data", "breast_cancer", "--arch", "mlp", "--epochs", "2", "--no-progress", "--out", tmp_path / "m"
    )
    assert result.exit_code == 0, result.output
    for field in ("train accuracy", "test accuracy", "saved to", "breast_cancer"):
        assert field in result.output
    assert (tmp_path / "m" / "model.json").is_file()


def test_unknown_architecture_is_one_red_line_and_exit_code_2(tmp_path):
    result = invoke("train", "--arch", "resnet", "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert "error: `--arch` must be one of 'mlp', 'small_cnn', got 'resnet'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m").exists()


def test_cnn_on_tabular_data_says_why(tmp_path):
    result = invoke("train", "--data", "breast_cancer", "--arch", "small_cnn", "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert "for small_cnn, got (30,)" in result.output


def test_unknown_dataset_lists_what_is_accepted(tmp_path):
    result = invoke("train", "--data", "cifar10", "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert "['breast_cancer', 'digits']" in result.output


def test_bad_hyperparameter_is_named(tmp_path):
    result = invoke("train", "--epochs", "0", "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert "--epochs must be an int in [1, inf), got 0" in result.output


def test_unparsable_option_value_is_a_usage_error_with_exit_code_2(tmp_path):
    result = invoke("train", "--epochs", "many", "--out", tmp_path / "m")
    assert result.exit_code == 2
    assert "Invalid value for '--epochs'" in result.output


def test_help_teaches_with_examples():
    result = invoke("train", "--help")
    assert result.exit_code == 0
    assert "Examples" in result.output and "bastion train --data digits --arch small_cnn" in result.output
