"""APGD-T: breaks what the budget allows on a linear model, beats APGD-CE, refuses what it cannot do."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.attacks.evasion.conftest import build_tiny_model, linear_model, tiny_inputs
from tests.attacks.evasion.test_fab import analytic_distances

from bastion.attacks.evasion import APGD, APGDT
from bastion.attacks.evasion.apgd_targeted import first_row_per_owner
from bastion.exceptions import ValidationError
from bastion.models import TorchModel


@pytest.mark.parametrize("quantile", [0.2, 0.5, 0.8])
def test_breaks_every_sample_whose_minimal_eps_is_below_the_budget(quantile):
    model, weights = linear_model(n_classes=5, n_features=6, seed=0)
    x = np.random.default_rng(1).uniform(0.4, 0.6, size=(60, 6)).astype(np.float32)
    y = model.predict(x)
    minimal = analytic_distances(model, weights, x, y, "inf")
    eps = float(np.quantile(minimal, quantile))

    broken = model.predict(APGDT(eps, steps=20).generate(model, x, y)) != y

    assert (minimal < eps).any()
    np.testing.assert_array_equal(broken, minimal < eps)


def test_at_least_as_strong_as_apgd_ce_on_the_digits_cnn(digits, digits_cnn):
    x, y = digits.x_test[:100], digits.y_test[:100]

    ce = digits_cnn.predict(APGD(0.06, steps=20).generate(digits_cnn, x, y)) == y
    targeted = digits_cnn.predict(APGDT(0.06, steps=20, n_target_classes=3).generate(digits_cnn, x, y)) == y

    assert targeted.mean() <= ce.mean()


def test_query_cost_is_one_ranking_pass_plus_steps_plus_one_per_run():
    model = build_tiny_model()
    x = tiny_inputs(model, 5, seed=0)
    y = model.predict(x)
    before = model.queries

    APGDT(1e-6, steps=7, n_target_classes=2).generate(model, x, y)

    assert model.queries - before == 5 * (1 + 2 * 8)


def test_needs_four_classes():
    model = build_tiny_model(n_classes=3)

    with pytest.raises(ValidationError, match=r"at least 4 classes, got 3"):
        APGDT(0.1).generate(model, tiny_inputs(model, 2, seed=0))


def test_refuses_a_target():
    model = build_tiny_model()

    with pytest.raises(ValidationError, match=r"`target` must be None for APGDT"):
        APGDT(0.1).generate(model, tiny_inputs(model, 2, seed=0), target=1)


def test_bad_target_count_is_refused():
    with pytest.raises(ValidationError, match=r"`n_target_classes` must be an int in \[1, inf\), got 0"):
        APGDT(0.1, n_target_classes=0)


def test_targets_batched_together_break_the_samples_the_one_by_one_order_breaks(digits, digits_cnn):
    x, y = digits.x_test[:40], digits.y_test[:40]
    shape, classes = digits.input_shape, digits.n_classes
    one_by_one = TorchModel(digits_cnn.module, input_shape=shape, n_classes=classes, batch_size=len(x))
    together = TorchModel(digits_cnn.module, input_shape=shape, n_classes=classes, batch_size=4 * len(x))
    attack = APGDT(0.05, steps=10, n_target_classes=4)

    alone = one_by_one.predict(attack.generate(one_by_one, x, y)) != y
    batched = together.predict(attack.generate(together, x, y)) != y

    assert 0 < alone.sum() < len(x)
    np.testing.assert_array_equal(batched, alone)


def test_first_row_per_owner_picks_each_owners_earliest_marked_row():
    owners = torch.tensor([3, 1, 3, 1, 0, 3])
    mask = torch.tensor([False, True, True, True, False, True])

    rows = first_row_per_owner(owners, mask)

    assert sorted(zip(owners[rows].tolist(), rows.tolist(), strict=True)) == [(1, 1), (3, 2)]
