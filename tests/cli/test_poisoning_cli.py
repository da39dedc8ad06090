from __future__ import annotations

import json

import numpy as np

from bastion.attacks.poisoning import PoisonedDataset, load_dataset

from .conftest import invoke


def test_attack_poison_writes_the_poisoned_npz_with_its_mask(tmp_path):
    out = tmp_path / "poisoned.npz"
    result = invoke(
        "attack",
        "poison",
        "--data",
        "digits",
        "--attack",
        "backdoor",
        "--rate",
        "0.05",
        "--target-class",
        "0",
        "--out",
        out,
        "--json",
        tmp_path / "p.json",
    )
    assert result.exit_code == 0, result.output
    assert "67 (5.0%)" in result.output and "verdict" in result.output
    with np.load(out, allow_pickle=False) as archive:
        assert archive["poison_mask"].sum() == 67 and archive["trigger_mask"].shape == (1, 8, 8)
    loaded = load_dataset(out)
    assert isinstance(loaded, PoisonedDataset) and loaded.target_class == 0 and loaded.trigger is not None
    assert json.loads((tmp_path / "p.json").read_text())["dataset"]["n_poison"] == 67


def test_defend_sanitize_scores_the_removal_against_the_mask(tmp_path):
    flipped = tmp_path / "flipped.npz"
    assert (
        invoke(
            "attack", "poison", "--data", "digits", "--attack", "label_flip", "--rate", "0.2", "--out", flipped
        ).exit_code
        == 0
    )
    cleaned = tmp_path / "cleaned.npz"
    result = invoke(
        "defend",
        "sanitize",
        "--data",
        flipped,
        "--method",
        "knn_label",
        "--out",
        cleaned,
        "--json",
        tmp_path / "c.json",
    )
    assert result.exit_code == 0, result.output
    assert "recall (poison removed)" in result.output
    record = json.loads((tmp_path / "c.json").read_text())
    assert record["cleaning"]["recall"] > 0.9
    with np.load(cleaned, allow_pickle=False) as archive:
        assert archive["removed_mask"].size == 1347
        assert len(archive["y_train"]) == 1347 - record["cleaning"]["n_removed"]


def test_evaluate_reports_accuracy_and_attack_success(tmp_path):
    result = invoke(
        "attack",
        "poison",
        "--data",
        "breast_cancer",
        "--attack",
        "backdoor",
        "--rate",
        "0.1",
        "--target-class",
        "1",
        "--patch-size",
        "5",
        "--evaluate",
        "--epochs",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "attack success after poisoning" in result.output and "verdict: the backdoor works" in result.output


def test_gradient_attack_on_two_classes(tmp_path):
    result = invoke(
        "attack", "poison", "--data", "digits", "--classes", "3,8", "--attack", "gradient", "--n-points", "2"
    )
    assert result.exit_code == 0, result.output
    assert "poisoned rows" in result.output


def test_bad_rate_is_one_line_error():
    result = invoke("attack", "poison", "--attack", "label_flip", "--rate", "1.5")
    assert result.exit_code == 2
    assert "--rate must be a float in (0, 1), got 1.5" in result.output
    assert "Traceback" not in result.output


def test_unknown_method_is_one_line_error():
    result = invoke("defend", "sanitize", "--method", "magic")
    assert result.exit_code == 2 and "`--method` must be one of" in result.output


def test_missing_class_is_one_line_error():
    result = invoke("attack", "poison", "--attack", "backdoor", "--target-class", "12")
    assert result.exit_code == 2 and "--target-class" in result.output


def test_poison_and_sanitize_take_clip_for_data_in_another_range(tmp_path, digits):
    counts = tmp_path / "counts.npz"
    np.savez(
        counts,
        x_train=digits.x_train * 16,
        y_train=digits.y_train,
        x_test=digits.x_test * 16,
        y_test=digits.y_test,
    )
    flipped = tmp_path / "flipped.npz"
    result = invoke("attack", "poison", "--data", counts, "--clip", "0,16", "--attack", "label_flip", "--out", flipped)
    assert result.exit_code == 0, result.output
    assert "data rescaled linearly from [0, 16] to [0, 1] (--clip)" in " ".join(result.output.split())
    with np.load(flipped, allow_pickle=False) as archive:
        assert archive["x_train"].max() <= 1.0 and np.allclose(archive["x_test"], digits.x_test)
    result = invoke("defend", "sanitize", "--data", counts, "--clip", "0,16", "--method", "knn_label")
    assert result.exit_code == 0, result.output
    assert "(--clip)" in result.output
