"""PGD: the ball's corner on a linear model, targeted mode, errors."""

from __future__ import annotations

import numpy as np
import pytest
from tests.attacks.evasion.conftest import linear_binary_model

from bastion.attacks.evasion import PGD
from bastion.exceptions import CapabilityError, ValidationError

# A bias large enough that no point of the ball changes the decision (yet small enough
# that the softmax does not saturate in float32), so PGD returns its last iterate.
ALWAYS_CLASS_0 = (5.0, 0.0)


def test_reaches_the_linf_corner_on_a_linear_model(linear_weights):
    model = linear_binary_model(linear_weights, bias=ALWAYS_CLASS_0)
    x = np.full((4, 6), 0.5, dtype=np.float32)

    x_adv = PGD(eps=0.1, steps=10).generate(model, x, np.zeros(4, dtype=np.int64))

    corner = 0.1 * np.sign(linear_weights[1] - linear_weights[0])
    np.testing.assert_allclose(x_adv - x, np.broadcast_to(corner, x.shape), atol=1e-6)


def test_reaches_the_l2_sphere_along_the_weight_difference(linear_weights):
    model = linear_binary_model(linear_weights, bias=ALWAYS_CLASS_0)
    x = np.full((4, 6), 0.5, dtype=np.float32)

    x_adv = PGD(eps=0.2, steps=40, norm="2", alpha=0.05).generate(model, x, np.zeros(4, dtype=np.int64))

    difference = linear_weights[1] - linear_weights[0]
    expected = 0.2 * difference / np.linalg.norm(difference)
    np.testing.assert_allclose(x_adv - x, np.broadcast_to(expected, x.shape), atol=1e-3)


@pytest.mark.parametrize("early_stop", [True, False])
@pytest.mark.parametrize("norm", ["inf", "2"])
def test_a_sample_keeps_the_iterate_it_first_succeeded_at(linear_weights, norm, early_stop):
    # Each step of 0.01 along the steepest-ascent direction of w1 - w0 raises the margin
    # z1 - z0 by 0.01 * |w1 - w0| (the dual norm). The bias puts the first sample 2.5 steps from
    # the boundary: its third iterate is the first adversarial one, and PGD stops there. The
    # second starts ten steps further away, never crosses inside the ball, and ends on its edge.
    difference = linear_weights[1] - linear_weights[0]
    if norm == "inf":
        direction, gain = np.sign(difference), float(np.abs(difference).sum())
    else:
        direction, gain = difference / np.linalg.norm(difference), float(np.linalg.norm(difference))
    alpha = 0.01
    x = np.stack([np.full(6, 0.5), 0.5 - 0.1 * direction]).astype(np.float32)
    bias = (float(difference @ x[0]) + 2.5 * alpha * gain, 0.0)
    model = linear_binary_model(linear_weights, bias=bias)
    attack = PGD(eps=0.1, alpha=alpha, steps=10, norm=norm, random_start=False, early_stop=early_stop)

    x_adv = attack.generate(model, x, np.zeros(2, dtype=np.int64))

    np.testing.assert_allclose(x_adv[0], x[0] + 3 * alpha * direction, atol=1e-6)
    np.testing.assert_allclose(x_adv[1], x[1] + 0.1 * direction, atol=1e-5)
    # With early_stop the first sample leaves after its fourth pass (the one that finds it
    # adversarial); without, both are in all ten.
    assert model.queries == (4 + 10 if early_stop else 2 * 10)
    assert model.predict(x_adv).tolist() == [1, 0]


def test_early_stop_changes_the_passes_not_the_result(digits, digits_cnn):
    x, y = digits.x_test[:128], digits.y_test[:128]
    before = digits_cnn.queries
    stopped = PGD(eps=0.1, steps=10).generate(digits_cnn, x, y)
    asked = digits_cnn.queries - before
    every = PGD(eps=0.1, steps=10, early_stop=False).generate(digits_cnn, x, y)

    assert np.array_equal(digits_cnn.predict(stopped) != y, digits_cnn.predict(every) != y)
    np.testing.assert_allclose(stopped, every, atol=1e-6)
    assert asked < 10 * len(x)


def test_stronger_than_fgsm_on_the_digits_cnn(digits, digits_cnn):
    from bastion.attacks.evasion import FGSM

    x, y = digits.x_test[:150], digits.y_test[:150]

    pgd = (digits_cnn.predict(PGD(eps=0.1, steps=10).generate(digits_cnn, x, y)) == y).mean()
    fgsm = (digits_cnn.predict(FGSM(eps=0.1).generate(digits_cnn, x, y)) == y).mean()

    assert pgd < fgsm


def test_targeted_mode_reaches_the_target(digits, digits_cnn):
    x = digits.x_test[:60]

    x_adv = PGD(eps=0.3, steps=20).generate(digits_cnn, x, digits.y_test[:60], target=3)

    assert (digits_cnn.predict(x_adv) == 3).mean() > 0.9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": -1.0}, r"`eps` must be a float in"),
        ({"eps": 0.1, "steps": 0}, r"`steps` must be an int in \[1, inf\), got 0"),
        ({"eps": 0.1, "norm": "L1"}, r"`norm` must be one of"),
        ({"eps": 0.1, "loss": "hinge"}, r"`loss` must be one of"),
        ({"eps": 0.1, "alpha": -0.5}, r"`alpha` must be a float in"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        PGD(**kwargs)


def test_black_box_model_is_refused(breast_cancer, breast_cancer_logistic):
    with pytest.raises(CapabilityError, match=r"PGD needs a model with 'gradients'"):
        PGD(eps=0.1).generate(breast_cancer_logistic, breast_cancer.x_test[:2])
