"""`bastion attack evasion`: runs the registry's attacks on saved models; clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from bastion.attacks.evasion import ATTACKS
from bastion.cli.evasion import _sample, build_attack
from bastion.exceptions import ValidationError
from bastion.models import SklearnModel, io

from .conftest import invoke


def attack(folder, *args, json_path=None):
    extra = ("--json", json_path) if json_path else ()
    return invoke("attack", "evasion", "--model", folder, "--data", "digits", "--n-samples", "40", *args, *extra)


def test_pgd_prints_the_result_and_lowers_accuracy(trained_folder, tmp_path):
    result = attack(trained_folder, "--attack", "pgd", "--eps", "0.1", "--steps", "10", json_path=tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    for field in ("clean accuracy", "robust accuracy", "success rate", "queries", "PGD(eps=0.1, steps=10"):
        assert field in result.output
    record = json.loads((tmp_path / "r.json").read_text())
    # A sample leaves PGD's batch once adversarial: those still robust at the end were asked at
    # all 10 steps, the others fewer times.
    assert record["n_samples"] == 40
    assert 10 * round(40 * record["robust_accuracy"]) <= record["queries_used"] < 400
    assert record["robust_accuracy"] < record["clean_accuracy"] - 0.3
    assert record["perturbation_linf_max"] <= 0.1 + 1e-6


def test_same_seed_same_result(trained_folder, tmp_path):
    for name in ("a", "b"):
        assert attack(trained_folder, "--attack", "fgsm", "--eps", "0.1", json_path=tmp_path / name).exit_code == 0
    first, second = (json.loads((tmp_path / name).read_text()) for name in ("a", "b"))
    first.pop("seconds"), second.pop("seconds")
    assert first == second


def test_targeted_attack_reports_its_target_and_skips_samples_of_that_class(trained_folder, tmp_path):
    result = attack(trained_folder, "--attack", "pgd", "--eps", "0.3", "--targeted", "3", json_path=tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert "class 3" in result.output
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["target"] == 3 and record["success_rate"] > 0.5


def test_l2_norm_is_passed_to_the_attack(trained_folder, tmp_path):
    result = attack(trained_folder, "--attack", "pgd", "--eps", "1.0", "--norm", "2", json_path=tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["perturbation_l2_max"] <= 1.0 + 1e-5


def test_onnx_file_is_converted_for_gradient_attacks(trained_folder, onnx_file, tmp_path):
    result = attack(onnx_file, "--attack", "fgsm", "--eps", "0.1", json_path=tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "r.json").read_text())
    expected = tmp_path / "expected.json"
    assert attack(trained_folder, "--attack", "fgsm", "--eps", "0.1", json_path=expected).exit_code == 0
    assert record["robust_accuracy"] == json.loads(expected.read_text())["robust_accuracy"]


def test_option_the_attack_does_not_take_is_refused_listing_what_it_takes(trained_folder):
    result = attack(trained_folder, "--attack", "fgsm", "--eps", "0.1", "--steps", "5")
    assert result.exit_code == 2
    assert "error: --steps does not apply to fgsm; fgsm accepts --eps, --norm, --loss" in result.output


def test_missing_budget_is_refused(trained_folder):
    result = attack(trained_folder, "--attack", "pgd")
    assert result.exit_code == 2
    assert "--eps is required by pgd" in result.output


def test_unknown_attack_lists_the_registry(trained_folder):
    result = attack(trained_folder, "--attack", "deepfool", "--eps", "0.1")
    assert result.exit_code == 2
    assert "`--attack` must be one of 'fgsm', 'pgd'" in result.output


def test_bad_attack_value_is_named(trained_folder):
    result = attack(trained_folder, "--attack", "pgd", "--eps", "-0.1")
    assert result.exit_code == 2
    assert "--eps must be a float in [0, inf), got -0.1" in result.output


def test_gradient_attack_on_a_scikit_learn_model_says_what_is_missing(tmp_path, digits):
    flat = digits.x_train[:300].reshape(300, -1)
    estimator = LogisticRegression(max_iter=100).fit(flat, digits.y_train[:300])
    folder = io.save(SklearnModel(estimator, input_shape=(1, 8, 8)), tmp_path / "sk")
    result = attack(folder, "--attack", "pgd", "--eps", "0.1")
    assert result.exit_code == 2
    assert "--attack pgd needs a model with 'gradients'" in result.output


def test_black_box_attack_runs_on_a_scikit_learn_model(tmp_path, breast_cancer, breast_cancer_logistic):
    folder = io.save(breast_cancer_logistic, tmp_path / "sk")
    result = invoke(
        "attack", "evasion", "--model", folder, "--data", "breast_cancer", "--attack", "square",
        "--eps", "0.1", "--max-queries", "100", "--n-samples", "10", "--json", tmp_path / "r.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "r.json").read_text())
    assert "SquareAttack(eps=0.1, max_queries=100" in record["attack"]
    assert 0 < record["queries_used"] <= 10 * 100 + 10 and record["perturbation_linf_max"] <= 0.1 + 1e-6


def test_data_that_does_not_fit_the_model_is_refused(trained_folder):
    result = invoke("attack", "evasion", "--model", trained_folder, "--data", "breast_cancer", "--eps", "0.1")
    assert result.exit_code == 2
    assert "expects samples of shape (1, 8, 8), but dataset 'breast_cancer' has samples of shape (30,)" in result.output


def test_missing_model_is_refused(tmp_path):
    result = attack(tmp_path / "nothing", "--eps", "0.1")
    assert result.exit_code == 2
    assert "(not found)" in result.output


def test_unknown_option_is_a_readable_usage_error(trained_folder):
    result = attack(trained_folder, "--epsilon", "0.1")
    assert result.exit_code == 2
    assert "No such option: --epsilon" in result.output


def test_help_teaches_with_examples():
    result = invoke("attack", "evasion", "--help")
    assert result.exit_code == 0
    assert "Examples" in result.output and "--attack pgd --eps 0.1" in result.output


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_registered_attack_can_be_built_from_cli_options(name):
    given = {"--eps": 0.1} if "--eps" in build_attack.__globals__["attack_options"](ATTACKS[name]) else {}
    assert isinstance(build_attack(name, given, seed=0), ATTACKS[name])


def test_build_attack_passes_the_seed_to_attacks_that_take_one():
    assert build_attack("pgd", {"--eps": 0.1, "--steps": 3}, seed=7).seed == 7


def test_build_attack_passes_progress_to_attacks_that_take_it():
    assert build_attack("square", {"--eps": 0.1}, seed=0, progress=True).progress is True


def test_build_attack_refuses_unknown_names():
    with pytest.raises(ValidationError, match=r"`--attack` must be one of"):
        build_attack("nope", {}, seed=0)


def test_cli_draws_samples_reproducibly_from_the_test_split(trained_folder, tmp_path):
    result = attack(trained_folder, "--attack", "fgsm", "--eps", "0.0", json_path=tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["robust_accuracy"] == record["clean_accuracy"]
    assert np.isclose(record["perturbation_linf_max"], 0.0)


def test_targeted_draw_leaves_out_samples_already_of_the_target_class():
    y = np.array([3, 1, 3, 2, 0, 3, 1])
    drawn = _sample(y, 10, seed=0, target=3)
    assert sorted(drawn.tolist()) == [1, 3, 4, 6]


def test_draw_is_seeded():
    y = np.arange(100) % 10
    assert np.array_equal(_sample(y, 20, seed=1, target=None), _sample(y, 20, seed=1, target=None))
    assert not np.array_equal(_sample(y, 20, seed=1, target=None), _sample(y, 20, seed=2, target=None))


def test_evasion_ends_with_a_plain_words_verdict(trained_folder):
    result = attack(trained_folder, "--attack", "fgsm", "--eps", "0.2")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "FGSM at eps 0.2 fools the model on" in text
    assert "of the inputs it classified correctly (40 samples):" in text


def test_unbounded_attack_says_no_eps_bound_applied(trained_folder):
    result = attack(trained_folder, "--attack", "cw", "--steps", "5")
    assert result.exit_code == 0, result.output
    assert "cw is unbounded: no eps bound applied" in " ".join(result.output.split())


def test_n_samples_defaults_to_the_whole_test_split(trained_folder):
    result = invoke(
        "attack", "evasion", "--model", trained_folder, "--data", "digits", "--attack", "fgsm", "--eps", "0.1"
    )
    assert result.exit_code == 0, result.output
    assert "(450 samples)" in " ".join(result.output.split())


def test_unbounded_attack_reports_the_median_perturbation_of_its_successes(trained_folder, tmp_path):
    result = attack(trained_folder, "--attack", "cw", "--steps", "20", json_path=tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "median perturbation" in text and "with median perturbations of L2" in text
    assert "no eps bound applied" in text and "pass --eps to score it against a bound" in text
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["unbounded"] is True and record["eps"] is None and record["perturbation_l2_median"] > 0


def test_eps_scores_an_unbounded_attack_against_a_bound(trained_folder, tmp_path):
    result = attack(trained_folder, "--attack", "cw", "--steps", "20", "--eps", "0.5", json_path=tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "robust accuracy at eps 0.5" in text
    assert "scored against eps 0.5 (L2), robust accuracy is" in text
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["eps"] == 0.5 and record["eps_norm"] == "2"
    assert record["robust_accuracy"] <= record["robust_accuracy_at_eps"] <= record["clean_accuracy"]
