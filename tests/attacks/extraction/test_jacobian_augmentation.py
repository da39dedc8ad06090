"""JacobianAugmentation (Papernot et al. 2017): seed set growth, budget, transfer."""

from __future__ import annotations

import pytest

from bastion.attacks.extraction import JacobianAugmentation
from bastion.exceptions import ValidationError
from bastion.models import LabelOnly


def test_each_round_doubles_the_labelled_set(digits_mlp, digits_split, seed_set):
    digits_mlp.reset_queries()
    attack = JacobianAugmentation(seed_set, rounds=2, epochs=10)
    result = attack.extract(LabelOnly(digits_mlp), budget=1000, x_eval=digits_split["x_eval"])
    assert digits_mlp.queries == result.queries_used == 100 * 2**2


def test_substitute_agrees_and_its_adversarials_transfer(digits_mlp, digits_split, seed_set):
    result = JacobianAugmentation(seed_set, rounds=2, epochs=10).extract(
        digits_mlp, budget=400, x_eval=digits_split["x_eval"], y_eval=digits_split["y_eval"]
    )
    assert result.fidelity > 0.6
    assert result.transfer_rate > result.target_clean_error + 0.2


def test_a_budget_short_of_a_full_round_is_spent_exactly(digits_mlp, seed_set):
    digits_mlp.reset_queries()
    result = JacobianAugmentation(seed_set, rounds=3, epochs=2).extract(digits_mlp, budget=250)
    assert digits_mlp.queries == result.queries_used == 250


def test_budget_below_the_seed_set_names_the_minimum(digits_mlp, seed_set):
    with pytest.raises(ValidationError, match=r"at least 100 .*the 100 seed inputs must be labelled"):
        JacobianAugmentation(seed_set).extract(digits_mlp, budget=99)
