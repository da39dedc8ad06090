"""FGSM: closed form on a linear model, targeted mode, errors."""

from __future__ import annotations

import numpy as np
import pytest
from tests.attacks.evasion.conftest import linear_binary_model

from bastion.attacks.evasion import FGSM
from bastion.exceptions import CapabilityError, ValidationError


def test_step_on_linear_model_is_eps_times_sign_of_weight_difference(linear_weights):
    model = linear_binary_model(linear_weights)
    x = np.full((3, 6), 0.5, dtype=np.float32)
    y = np.zeros(3, dtype=np.int64)

    x_adv = FGSM(eps=0.1).generate(model, x, y)

    expected = 0.1 * np.sign(linear_weights[1] - linear_weights[0])
    np.testing.assert_allclose(x_adv - x, np.broadcast_to(expected, x.shape), atol=1e-6)


def test_l2_step_on_linear_model_follows_the_normalised_weight_difference(linear_weights):
    model = linear_binary_model(linear_weights)
    x = np.full((2, 6), 0.5, dtype=np.float32)

    x_adv = FGSM(eps=0.2, norm="2").generate(model, x, np.zeros(2, dtype=np.int64))

    difference = linear_weights[1] - linear_weights[0]
    np.testing.assert_allclose(
        x_adv - x, np.broadcast_to(0.2 * difference / np.linalg.norm(difference), x.shape), atol=1e-6
    )


def test_targeted_step_moves_toward_the_target_class(linear_weights):
    model = linear_binary_model(linear_weights)
    x = np.full((1, 6), 0.5, dtype=np.float32)

    x_adv = FGSM(eps=0.1).generate(model, x, np.zeros(1, dtype=np.int64), target=1)

    np.testing.assert_allclose(x_adv[0] - x[0], 0.1 * np.sign(linear_weights[1] - linear_weights[0]), atol=1e-6)


def test_lowers_accuracy_of_the_digits_cnn(digits, digits_cnn):
    x, y = digits.x_test[:100], digits.y_test[:100]

    x_adv = FGSM(eps=0.2).generate(digits_cnn, x, y)

    assert (digits_cnn.predict(x_adv) == y).mean() < (digits_cnn.predict(x) == y).mean() - 0.3


def test_negative_eps_is_refused():
    with pytest.raises(ValidationError, match=r"`eps` must be a float in \[0, inf\), got -0.1"):
        FGSM(eps=-0.1)


def test_unknown_norm_is_refused():
    with pytest.raises(ValidationError, match=r"`norm` must be one of"):
        FGSM(eps=0.1, norm="1")


def test_black_box_model_is_refused(breast_cancer, breast_cancer_logistic):
    with pytest.raises(CapabilityError, match=r"gradients"):
        FGSM(eps=0.1).generate(breast_cancer_logistic, breast_cancer.x_test[:2])
