"""`--clip` for data outside [0, 1], and the one-line warning when a model scores far too low."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import invoke


def save_npz(path, dataset, transform):
    np.savez(
        path,
        x_train=transform(dataset.x_train),
        y_train=dataset.y_train,
        x_test=transform(dataset.x_test),
        y_test=dataset.y_test,
    )
    return path


def fgsm(model, data, *args):
    return invoke(
        "attack",
        "evasion",
        "--model",
        model,
        "--data",
        data,
        "--attack",
        "fgsm",
        "--eps",
        "0.1",
        "--n-samples",
        "60",
        "--no-progress",
        *args,
    )


@pytest.fixture()
def raw_counts(tmp_path, digits):
    """digits as raw pixel counts in [0, 16], the range scikit-learn ships them in."""
    return save_npz(tmp_path / "counts.npz", digits, lambda x: (x * 16).astype(np.float32))


def test_data_outside_the_models_range_is_refused_with_a_clip_suggestion(trained_folder, raw_counts):
    result = fgsm(trained_folder, raw_counts)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "has values in [0, 16], outside the model's input range [0, 1]" in text
    assert "--clip LOW,HIGH, e.g. --clip 0,16" in text


def test_clip_rescales_the_data_and_says_so(trained_folder, raw_counts):
    result = fgsm(trained_folder, raw_counts, "--clip", "0,16")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "data rescaled linearly from [0, 16] to [0, 1] (--clip)" in text
    assert "warning:" not in text


def test_clip_says_how_much_it_clipped(trained_folder, raw_counts):
    result = fgsm(trained_folder, raw_counts, "--clip", "0,8")
    text = " ".join(result.output.split())
    assert "of the values lay outside and were clipped" in text


@pytest.mark.parametrize("value", ["5,1", "1,1", "a,b", "1", "0,1,2", "0,inf"])
def test_bad_clip_values_are_one_line_naming_the_expected_form(trained_folder, raw_counts, value):
    result = fgsm(trained_folder, raw_counts, "--clip", value)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [f"error: `--clip` expects LOW,HIGH with LOW < HIGH, e.g. --clip 0,255; received {value!r}"]


def test_a_model_far_below_its_accuracy_warns_of_a_scaling_mismatch_in_one_line(trained_folder, tmp_path, digits):
    # Images with their height and width swapped: in range, right shape, wrong layout.
    swapped = save_npz(tmp_path / "swapped.npz", digits, lambda x: np.ascontiguousarray(x.transpose(0, 1, 3, 2)))
    result = fgsm(trained_folder, swapped)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "the usual sign of a scaling mismatch (data range / channel axis / feature scaling)" in warnings[0]


def test_train_takes_clip_too(tmp_path, raw_counts):
    result = invoke(
        "train", "--data", raw_counts, "--clip", "0,16", "--epochs", "1", "--no-progress", "--out", tmp_path / "m"
    )
    assert result.exit_code == 0, result.output
    assert "data rescaled linearly from [0, 16]" in " ".join(result.output.split())


def test_far_below_the_accuracy_bastion_train_recorded_warns(tmp_path, digits):
    import json

    from bastion.models import io

    folder = tmp_path / "m"
    trained = invoke("train", "--data", "digits", "--arch", "mlp", "--epochs", "5", "--no-progress", "--out", folder)
    assert trained.exit_code == 0, trained.output
    assert 0.8 < io.recorded_accuracy(folder) <= 1
    spec = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**spec, "test_accuracy": 0.99}))
    # A tenth of the contrast: in range, above the 50% floor (about 70%), far below the recorded 99%.
    dim = save_npz(tmp_path / "dim.npz", digits, lambda x: (x * 0.1).astype(np.float32))
    result = fgsm(folder, dim)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.output
    assert "far below its recorded accuracy 99%" in " ".join(result.output.split())
