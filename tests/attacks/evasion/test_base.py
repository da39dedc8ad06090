"""The EvasionAttack base class and the helpers every attack shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.attacks.evasion.conftest import build_tiny_model, tiny_inputs

from bastion.attacks.evasion import FGSM
from bastion.attacks.evasion.base import (
    EvasionAttack,
    check_eps,
    check_loss,
    check_norm,
    is_adversarial,
    label_function,
    objective,
    objective_gradient,
    score_function,
)
from bastion.exceptions import CapabilityError, InputTypeError, ValidationError


class _Escaping(EvasionAttack):
    """Returns points far outside every ball, to test the base class's final projection."""

    def __init__(self, eps: float | None, norm: str = "inf") -> None:
        self.eps = eps
        self.norm = norm

    def _attack(self, model, x, labels, targets, generator):
        return x + 10.0 * torch.sign(torch.randn(x.shape, generator=generator))


@pytest.fixture()
def model():
    return build_tiny_model()


@pytest.fixture()
def x(model):
    return tiny_inputs(model, 6, seed=0)


def test_result_is_projected_onto_the_linf_ball_and_the_range(model, x):
    x_adv = _Escaping(eps=0.1).generate(model, x)

    assert np.abs(x_adv - x).max() <= 0.1 + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_result_is_projected_onto_the_l2_ball(model, x):
    x_adv = _Escaping(eps=0.5, norm="2").generate(model, x)

    assert np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1).max() <= 0.5 + 1e-5


def test_unbounded_attack_is_only_clipped_to_the_range(x):
    model = build_tiny_model(clip=(-1.0, 2.0))

    x_adv = _Escaping(eps=None).generate(model, x)

    assert set(np.unique(x_adv)) == {-1.0, 2.0}


def test_result_is_float32_of_the_input_shape(model, x):
    x_adv = FGSM(eps=0.1).generate(model, x.astype(np.float64))

    assert x_adv.dtype == np.float32 and x_adv.shape == x.shape


def test_missing_labels_default_to_the_models_predictions(model, x):
    np.testing.assert_array_equal(FGSM(eps=0.1).generate(model, x), FGSM(eps=0.1).generate(model, x, model.predict(x)))


def test_chunking_does_not_change_the_result(x):
    small = build_tiny_model()
    small.batch_size = 4

    np.testing.assert_array_equal(FGSM(eps=0.1).generate(small, x), FGSM(eps=0.1).generate(build_tiny_model(), x))


def test_wrong_input_shape_is_refused(model):
    with pytest.raises(ValidationError, match=r"`x` must have shape \(n, 1, 4, 4\), got \(2, 16\)"):
        FGSM(eps=0.1).generate(model, np.zeros((2, 16)))


def test_nan_input_is_refused(model, x):
    x[0, 0, 0, 0] = np.nan

    with pytest.raises(ValidationError, match=r"`x` must be finite, got 1 NaN"):
        FGSM(eps=0.1).generate(model, x)


def test_input_outside_the_range_is_refused(model, x):
    x[0, 0, 0, 0] = 1.5

    with pytest.raises(ValidationError, match=r"`x` must lie in the model's input range \[0, 1\]"):
        FGSM(eps=0.1).generate(model, x)


def test_labels_out_of_range_are_refused(model, x):
    with pytest.raises(ValidationError, match=r"`y` must hold labels in 0..3 for a 4-class model, got 7"):
        FGSM(eps=0.1).generate(model, x, np.full(len(x), 7))


def test_labels_of_the_wrong_length_are_refused(model, x):
    with pytest.raises(ValidationError, match=r"`y` must have 6 labels"):
        FGSM(eps=0.1).generate(model, x, np.zeros(3, dtype=np.int64))


def test_target_out_of_range_is_refused(model, x):
    with pytest.raises(ValidationError, match=r"`target` must be an int in \[0, 3\], got 4"):
        FGSM(eps=0.1).generate(model, x, target=4)


def test_per_sample_targets_of_the_wrong_length_are_refused(model, x):
    with pytest.raises(ValidationError, match=r"`target` must have 6 labels"):
        FGSM(eps=0.1).generate(model, x, target=[0, 1])


def test_black_box_model_is_refused_by_a_gradient_attack(breast_cancer, breast_cancer_logistic):
    with pytest.raises(CapabilityError, match=r"FGSM needs a model with 'gradients'"):
        FGSM(eps=0.1).generate(breast_cancer_logistic, breast_cancer.x_test[:3])


def test_something_that_is_not_a_model_is_refused(x):
    with pytest.raises(InputTypeError, match=r"`model` must be a bastion Model"):
        FGSM(eps=0.1).generate(torch.nn.Linear(16, 4), x)


def test_objective_gradient_matches_the_models_loss_gradient(model, x):
    labels = model.predict(x)

    values, gradient, logits = objective_gradient(model, torch.as_tensor(x), torch.as_tensor(labels), None, "ce")

    np.testing.assert_allclose(gradient.numpy(), model.loss_gradient(x, labels), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(logits.numpy(), model.logits(x), rtol=1e-6)
    assert values.shape == (len(x),)


def test_targeted_objective_is_minus_the_targets_loss():
    logits = torch.tensor([[2.0, 0.0, 1.0, -1.0]])
    labels, targets = torch.tensor([0]), torch.tensor([2])

    ce = torch.nn.functional.cross_entropy(logits, targets)

    np.testing.assert_allclose(objective(logits, labels, targets, "ce"), [-ce.item()], rtol=1e-6)
    # The target trails the best other logit by 1.
    np.testing.assert_allclose(objective(logits, labels, targets, "margin"), [-1.0])


def test_is_adversarial_means_misclassified_or_on_target():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0]])
    labels = torch.tensor([0, 0])

    np.testing.assert_array_equal(is_adversarial(logits, labels, None), [False, True])
    np.testing.assert_array_equal(is_adversarial(logits, labels, torch.tensor([2, 1])), [False, True])


def test_score_and_label_functions_answer_and_count_queries(model, x):
    scores = score_function(model)(torch.as_tensor(x))
    labels = label_function(model)(torch.as_tensor(x))

    np.testing.assert_allclose(scores.numpy(), model.predict_proba(x), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(labels.numpy(), model.predict(x))
    assert model.queries == 4 * len(x)


def test_score_function_of_a_black_box_model_uses_predict_proba(breast_cancer, breast_cancer_logistic):
    x = breast_cancer.x_test[:4]

    scores = score_function(breast_cancer_logistic)(torch.as_tensor(x))

    np.testing.assert_allclose(scores.numpy(), breast_cancer_logistic.predict_proba(x))


@pytest.mark.parametrize(("alias", "name"), [(np.inf, "inf"), (2, "2"), ("L2", "2"), ("linf", "inf"), ("inf", "inf")])
def test_norm_aliases_are_accepted(alias, name):
    assert check_norm(alias) == name


def test_unknown_norm_loss_and_negative_eps_are_refused():
    with pytest.raises(ValidationError, match=r"`norm` must be one of 'inf', '2', got 1"):
        check_norm(1)
    with pytest.raises(ValidationError, match=r"`loss` must be one of 'ce', 'margin', 'dlr', got 'hinge'"):
        check_loss("hinge")
    with pytest.raises(ValidationError, match=r"`eps` must be a float in \[0, inf\), got -1"):
        check_eps(-1)


def test_repr_shows_the_hyperparameters():
    assert repr(FGSM(eps=0.1)) == "FGSM(eps=0.1, norm='inf', loss='ce')"


def test_gradient_attack_works_inside_a_no_grad_block(model, x):
    expected = FGSM(eps=0.1).generate(model, x)
    with torch.no_grad():
        np.testing.assert_array_equal(FGSM(eps=0.1).generate(model, x), expected)
