"""APGD: the checkpoint schedule, strength against PGD, targeted modes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from tests.attacks.evasion.conftest import build_tiny_model, linear_binary_model, tiny_inputs

from bastion.attacks.evasion import APGD, PGD
from bastion.attacks.evasion.apgd import checkpoints
from bastion.exceptions import CapabilityError, ValidationError


def test_checkpoints_follow_the_papers_schedule_for_100_steps():
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (Croce & Hein 2020, Sec. 3.2).
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]


def test_checkpoints_are_increasing_and_inside_the_budget_for_short_runs():
    for steps in (1, 3, 10, 37):
        marks = checkpoints(steps)
        assert marks == sorted(set(marks))
        assert marks[0] >= 1 and marks[-1] <= steps


def test_at_least_as_strong_as_pgd_on_the_digits_cnn(digits, digits_cnn):
    x, y = digits.x_test[:150], digits.y_test[:150]

    pgd = (digits_cnn.predict(PGD(eps=0.1, steps=20).generate(digits_cnn, x, y)) == y).mean()
    apgd = (digits_cnn.predict(APGD(eps=0.1, steps=20).generate(digits_cnn, x, y)) == y).mean()

    assert apgd <= pgd
    assert apgd < (digits_cnn.predict(x) == y).mean() - 0.2


def test_reaches_the_linf_corner_on_a_linear_model(linear_weights):
    model = linear_binary_model(linear_weights, bias=(5.0, 0.0))
    x = np.full((3, 6), 0.5, dtype=np.float32)

    x_adv = APGD(eps=0.1, steps=10).generate(model, x, np.zeros(3, dtype=np.int64))

    corner = 0.1 * np.sign(linear_weights[1] - linear_weights[0])
    np.testing.assert_allclose(x_adv - x, np.broadcast_to(corner, x.shape), atol=1e-6)


def test_l2_version_stays_in_the_ball_and_lowers_accuracy(digits, digits_cnn):
    x, y = digits.x_test[:100], digits.y_test[:100]

    x_adv = APGD(eps=1.0, steps=20, norm="2").generate(digits_cnn, x, y)

    assert np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1).max() <= 1.0 + 1e-5
    assert (digits_cnn.predict(x_adv) == y).mean() < 0.5


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_targeted_mode_reaches_the_target(digits, digits_cnn, loss):
    x, y = digits.x_test[:60], digits.y_test[:60]

    x_adv = APGD(eps=0.3, steps=20, loss=loss).generate(digits_cnn, x, y, target=3)

    assert (digits_cnn.predict(x_adv) == 3).mean() > 0.9


def test_restarts_never_weaken_the_attack(digits, digits_cnn):
    x, y = digits.x_test[:100], digits.y_test[:100]

    once = digits_cnn.predict(APGD(eps=0.08, steps=10).generate(digits_cnn, x, y)) == y
    thrice = digits_cnn.predict(APGD(eps=0.08, steps=10, n_restarts=3).generate(digits_cnn, x, y)) == y

    assert not np.any(thrice & ~once)


def test_query_cost_is_steps_plus_one_per_sample_and_run():
    model = build_tiny_model()
    x = tiny_inputs(model, 5, seed=0)
    y = np.zeros(5, dtype=np.int64)

    APGD(eps=0.05, steps=7).generate(model, x, y)

    assert model.queries == 5 * 8


def test_targeted_dlr_needs_four_classes():
    model = build_tiny_model(n_classes=3)
    x = tiny_inputs(model, 2, seed=0)

    with pytest.raises(ValidationError, match=r"'dlr' \(targeted\) needs a model with at least 4 classes, got 3"):
        APGD(eps=0.1, loss="dlr").generate(model, x, target=1)


def test_untargeted_dlr_needs_three_classes(linear_weights):
    model = linear_binary_model(linear_weights)

    with pytest.raises(ValidationError, match=r"at least 3 classes, got 2"):
        APGD(eps=0.1, loss="dlr").generate(model, np.full((1, 6), 0.5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": -0.1}, r"`eps` must be a float in \[0, inf\), got -0.1"),
        ({"eps": 0.1, "steps": 0}, r"`steps` must be an int in \[1, inf\), got 0"),
        ({"eps": 0.1, "norm": "1"}, r"`norm` must be one of 'inf', '2', got '1'"),
        ({"eps": 0.1, "loss": "margin"}, r"`loss` must be one of 'ce', 'dlr', got 'margin'"),
        ({"eps": 0.1, "rho": 0.0}, r"`rho` must be a float in \(0, 1\], got 0.0"),
        ({"eps": 0.1, "n_restarts": 0}, r"`n_restarts` must be an int in \[1, inf\), got 0"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        APGD(**kwargs)


def test_black_box_model_is_refused(breast_cancer, breast_cancer_logistic):
    with pytest.raises(CapabilityError, match=r"APGD needs a model with 'gradients'"):
        APGD(eps=0.1).generate(breast_cancer_logistic, breast_cancer.x_test[:2])


def test_early_stop_breaks_the_same_samples_with_fewer_queries(digits, digits_cnn):
    x, y = digits.x_test[:100], digits.y_test[:100]
    before = digits_cnn.queries
    full = digits_cnn.predict(APGD(0.06, steps=20).generate(digits_cnn, x, y)) != y
    full_queries = digits_cnn.queries - before - len(x)

    before = digits_cnn.queries
    x_adv = APGD(0.06, steps=20, early_stop=True).generate(digits_cnn, x, y)
    stopped_queries = digits_cnn.queries - before
    stopped = digits_cnn.predict(x_adv) != y

    assert full.any()
    np.testing.assert_array_equal(stopped, full)
    assert stopped_queries < full_queries
    assert np.abs(x_adv - x).max() <= 0.06 + 1e-6
