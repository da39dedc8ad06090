"""evaluate(): accuracy, success, perturbation and cost of one attack on one batch."""

from __future__ import annotations

import json

import pytest

from bastion.attacks import EvasionResult, evaluate
from bastion.attacks.evasion import FGSM, PGD
from bastion.exceptions import InputTypeError, ValidationError


@pytest.fixture()
def batch(digits):
    return digits.x_test[:80], digits.y_test[:80]


def test_measures_accuracy_perturbation_and_queries(digits_mlp, batch):
    x, y = batch

    result = evaluate(digits_mlp, FGSM(eps=0.1), x, y)

    assert isinstance(result, EvasionResult)
    assert result.n_samples == 80
    assert result.clean_accuracy == pytest.approx((digits_mlp.predict(x) == y).mean())
    assert result.robust_accuracy < result.clean_accuracy
    assert result.perturbation_linf_max == pytest.approx(0.1, abs=1e-6)
    assert result.perturbation_l2_mean <= result.perturbation_l2_max
    assert result.queries_used == 80
    assert result.seconds > 0


def test_success_rate_counts_the_clean_correct_samples_turned_adversarial(digits_mlp, batch):
    x, y = batch

    result = evaluate(digits_mlp, PGD(eps=0.2, steps=10), x, y)

    correct = digits_mlp.predict(x) == y
    assert result.success_rate == pytest.approx(1 - result.robust_accuracy / correct.mean(), abs=1e-9)


def test_targeted_success_rate_is_the_fraction_classified_as_the_target(digits_mlp, batch):
    x, y = batch

    result = evaluate(digits_mlp, PGD(eps=0.3, steps=10), x, y, target=5)

    x_adv = PGD(eps=0.3, steps=10).generate(digits_mlp, x, y, target=5)
    assert result.success_rate == pytest.approx((digits_mlp.predict(x_adv) == 5).mean())


def test_result_is_frozen_and_serialises_to_json(digits_mlp, batch):
    result = evaluate(digits_mlp, FGSM(eps=0.05), *batch)

    assert json.loads(json.dumps(result.to_dict()))["attack"] == "FGSM(eps=0.05, norm='inf', loss='ce')"
    with pytest.raises(AttributeError):
        result.robust_accuracy = 1.0


def test_something_that_is_not_an_attack_is_refused(digits_mlp, batch):
    with pytest.raises(InputTypeError, match=r"`attack` must be an evasion attack with generate\(\), got str"):
        evaluate(digits_mlp, "pgd", *batch)


def test_labels_of_the_wrong_length_are_refused(digits_mlp, batch):
    x, y = batch

    with pytest.raises(ValidationError, match=r"`y` must have 80 labels"):
        evaluate(digits_mlp, FGSM(eps=0.1), x, y[:10])


def test_unbounded_attack_reports_medians_and_scores_against_an_eps(digits_mlp, batch):
    from bastion.attacks.evasion import CarliniWagnerL2

    x, y = batch
    attack = CarliniWagnerL2(steps=20, binary_search_steps=2)
    free = evaluate(digits_mlp, attack, x, y)
    assert free.unbounded and free.eps is None and free.robust_accuracy_at_eps is None
    assert 0 < free.perturbation_l2_median <= free.perturbation_l2_max
    assert "no eps bound applied" in free.summary()
    tight = evaluate(digits_mlp, attack, x, y, eps=1e-6)
    loose = evaluate(digits_mlp, attack, x, y, eps=1e6)
    assert tight.eps_norm == "2" and tight.robust_accuracy_at_eps == pytest.approx(tight.clean_accuracy)
    assert loose.robust_accuracy_at_eps == pytest.approx(loose.robust_accuracy)
    assert "scored against eps 1e-06 (L2), robust accuracy is" in tight.summary()


def test_eps_for_a_bounded_attack_is_refused(digits_mlp, batch):
    with pytest.raises(ValidationError, match="`eps` scores an unbounded attack; FGSM is bounded"):
        evaluate(digits_mlp, FGSM(eps=0.1), *batch, eps=0.2)


def test_a_model_far_below_its_accuracy_warns_of_a_scaling_mismatch(digits_mlp, batch):
    from bastion.models.sanity import ScalingMismatchWarning

    x, y = batch
    with pytest.warns(ScalingMismatchWarning, match="channel axis"):
        evaluate(digits_mlp, FGSM(eps=0.1), x.transpose(0, 1, 3, 2), y)
