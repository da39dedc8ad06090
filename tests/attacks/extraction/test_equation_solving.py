"""EquationSolving (Tramèr et al. 2016, Sec. 4.1): exact LR recovery, rounding, the MLP variant."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.attacks.extraction import EquationSolving
from bastion.attacks.extraction.equation_solving import rounding_step, solve_log_ratios
from bastion.exceptions import CapabilityError, InputTypeError, ValidationError
from bastion.models import LabelOnly, RoundedScores, TorchModel, zoo


def test_binary_logistic_regression_is_recovered_exactly_from_d_plus_1_queries(breast_cancer, breast_cancer_logistic):
    breast_cancer_logistic.reset_queries()
    result = EquationSolving().extract(
        breast_cancer_logistic, budget=31, x_eval=breast_cancer.x_test, y_eval=breast_cancer.y_test
    )
    assert breast_cancer_logistic.queries == result.queries_used == 31
    assert result.fidelity == 1.0
    assert result.confidence_error_max < 1e-6


def test_multinomial_logistic_regression_is_recovered_exactly(digits, digits_logistic):
    result = EquationSolving().extract(digits_logistic, budget=10 * 65, x_eval=digits.x_test)
    assert result.fidelity == 1.0
    assert result.confidence_error_max < 1e-5


def test_log_ratio_solution_matches_the_true_parameters(rng):
    coef = rng.normal(size=(4, 6))
    intercept = rng.normal(size=4)
    x = rng.uniform(size=(7, 6))
    logits = x @ coef.T + intercept
    scores = np.exp(logits - logits.max(axis=1, keepdims=True))
    scores /= scores.sum(axis=1, keepdims=True)
    found_coef, found_intercept = solve_log_ratios(x, scores)
    np.testing.assert_allclose(found_coef, coef - coef[0], atol=1e-9)
    np.testing.assert_allclose(found_intercept, intercept - intercept[0], atol=1e-9)


def test_softmax_regression_served_by_torch_is_recovered(digits):
    # Any softmax regression will do: exact recovery does not depend on training.
    module = zoo.mlp(digits.input_shape, 10, hidden=(), seed=0)
    target = TorchModel(module, input_shape=digits.input_shape, n_classes=10)
    result = EquationSolving().extract(target, budget=65, x_eval=digits.x_test)
    assert result.fidelity == 1.0
    assert result.confidence_error_max < 1e-4


def test_rounding_the_confidences_degrades_the_attack(breast_cancer, breast_cancer_logistic):
    errors = {
        decimals: EquationSolving()
        .extract(RoundedScores(breast_cancer_logistic, decimals), budget=62, x_eval=breast_cancer.x_test)
        .confidence_error_max
        for decimals in (2, 5)
    }
    assert errors[2] > 10 * errors[5]


def test_budget_below_d_plus_1_names_the_minimum(breast_cancer_logistic):
    with pytest.raises(ValidationError, match=r"at least 31 .*d \+ 1"):
        EquationSolving().extract(breast_cancer_logistic, budget=30)


def test_label_only_target_is_refused_naming_scores(breast_cancer_logistic):
    with pytest.raises(CapabilityError, match="EquationSolving needs a model with 'scores'"):
        EquationSolving().extract(LabelOnly(breast_cancer_logistic), budget=31)


def test_confidences_rounded_to_0_or_1_are_refused(breast_cancer_logistic):
    with pytest.raises(ValidationError, match="strictly between 0 and 1"):
        EquationSolving().extract(RoundedScores(breast_cancer_logistic, 0), budget=31)


def test_mlp_variant_agrees_with_the_target_on_uniform_inputs(breast_cancer_logistic):
    # Tramèr et al. query and measure agreement on inputs uniform in the feature box.
    attack = EquationSolving(architecture="mlp", hidden=(4,), epochs=60)
    unknowns = attack.unknowns(breast_cancer_logistic)
    result = attack.extract(breast_cancer_logistic, budget=unknowns)
    assert unknowns == 31 * 4 + 5 * 2
    assert result.fidelity > 0.9


def test_mlp_variant_is_deterministic(breast_cancer, breast_cancer_logistic):
    attack = EquationSolving(architecture="mlp", hidden=(4,), epochs=5, seed=3)
    first, second = (attack.extract(breast_cancer_logistic, budget=60) for _ in range(2))
    x = breast_cancer.x_test
    np.testing.assert_array_equal(first.stolen.predict_proba(x), second.stolen.predict_proba(x))


def test_the_rounding_step_is_read_from_the_answers(breast_cancer, breast_cancer_logistic):
    x = breast_cancer.x_test
    assert rounding_step(RoundedScores(breast_cancer_logistic, 3).predict_proba(x)) == pytest.approx(1e-3)
    assert rounding_step(breast_cancer_logistic.predict_proba(x)) is None


def test_weighting_by_precision_beats_plain_least_squares_on_rounded_answers(digits, digits_logistic):
    x = digits.x_test[:100]
    attack_x = np.random.default_rng(0).uniform(size=(650, 1, 8, 8)).astype(np.float32)
    answers = RoundedScores(digits_logistic, 2).predict_proba(attack_x)
    errors = []
    for step in (None, 1e-2):
        coef, intercept = solve_log_ratios(attack_x, answers, step=step)
        logits = x.reshape(len(x), -1) @ coef.T + intercept
        stolen = np.exp(logits - logits.max(axis=1, keepdims=True))
        errors.append(np.abs(stolen / stolen.sum(axis=1, keepdims=True) - digits_logistic.predict_proba(x)).max())
    assert errors[1] < errors[0]


def test_minimum_budget_of_a_non_model_is_a_type_error_naming_model():
    with pytest.raises(InputTypeError, match="`model` must be a bastion Model"):
        EquationSolving().minimum_budget(None)
