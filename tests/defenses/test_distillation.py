"""DefensiveDistillation: resists cross-entropy attacks, falls to margin attacks, and is flagged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bastion.attacks import APGD, PGD, SquareAttack, evaluate, robustness
from bastion.defenses import DefensiveDistillation
from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import TorchModel, zoo

SMALL_ENSEMBLE = {
    "apgd-ce": lambda eps: APGD(eps, steps=20, loss="ce"),
    "apgd-dlr": lambda eps: APGD(eps, steps=20, loss="dlr"),
    "square": lambda eps: SquareAttack(eps, max_queries=100),
}


def test_distilled_model_resists_cross_entropy_pgd_much_better_than_the_undefended_one(digits, digits_cnn, distiller):
    x, y = digits.x_test[:100], digits.y_test[:100]
    undefended = evaluate(digits_cnn, PGD(0.2, steps=20), x, y)
    distilled = evaluate(distiller.model_, PGD(0.2, steps=20), x, y)
    assert distilled.success_rate < undefended.success_rate - 0.15


def test_distilled_model_falls_to_pgd_on_the_logit_margin(digits, distiller):
    result = evaluate(distiller.model_, PGD(0.2, steps=20, loss="margin"), digits.x_test[:100], digits.y_test[:100])
    assert result.success_rate >= 0.9


def test_robustness_flags_gradient_masking_on_the_distilled_model(digits, distiller):
    result = robustness(
        distiller.model_, digits.x_test[:60], digits.y_test[:60], eps_grid=[0.2], attacks=SMALL_ENSEMBLE
    )
    assert result.robust_accuracy[0] < 0.1
    assert result.gradient_masking
    assert result.finding("softmax_saturation") is not None
    assert result.finding("more_steps_do_not_help") is not None


def test_student_learns_the_teachers_soft_labels_at_temperature(digits, distiller):
    logits = torch.from_numpy(distiller.teacher_.logits(digits.x_train[:50]))
    expected = torch.softmax(logits / 20, dim=1).numpy()
    np.testing.assert_allclose(distiller.soft_labels_[:50], expected, rtol=1e-5, atol=1e-7)
    assert distiller.soft_labels_.max(axis=1).mean() < 0.99


def test_deployed_student_runs_at_temperature_one_with_saturated_softmax(digits, distiller):
    assert isinstance(distiller.model_, TorchModel)
    assert distiller.model_ is not distiller.teacher_
    probabilities = distiller.model_.predict_proba(digits.x_test)
    assert (probabilities.max(axis=1) > 0.999).mean() > 0.8
    assert (distiller.model_.predict(digits.x_test) == digits.y_test).mean() > 0.85


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan")])
def test_non_positive_temperature_raises_a_clear_error(temperature):
    with pytest.raises(ValidationError, match="`temperature` must be a float in"):
        DefensiveDistillation(temperature=temperature)


def test_factory_must_be_callable_and_return_fresh_modules(small_digits):
    distiller = DefensiveDistillation(epochs=1, progress=False)
    module = zoo.mlp(small_digits.input_shape, small_digits.n_classes, hidden=(8,))
    with pytest.raises(InputTypeError, match="`module_factory` must be a callable"):
        distiller.fit(module, small_digits)
    with pytest.raises(InputTypeError, match=r"must return a torch\.nn\.Module"):
        distiller.fit(lambda: "mlp", small_digits)
    with pytest.raises(ValidationError, match="new module on each call"):
        distiller.fit(lambda: module, small_digits)


def test_factory_with_the_wrong_number_of_logits_is_refused_by_name(small_digits):
    distiller = DefensiveDistillation(epochs=1, progress=False)
    with pytest.raises(ValidationError, match=r"`module_factory` must build a teacher with 10 logits.*got 3"):
        distiller.fit(lambda: zoo.mlp(small_digits.input_shape, 3, hidden=(4,)), small_digits)


def test_factory_for_another_input_shape_is_refused_by_name(small_digits):
    distiller = DefensiveDistillation(epochs=1, progress=False)
    with pytest.raises(ValidationError, match="`module_factory` built a teacher that does not fit `dataset`"):
        distiller.fit(lambda: zoo.mlp((1, 4, 4), 10, hidden=(4,)), small_digits)
