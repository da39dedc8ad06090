"""KnockoffNets (Orekondy et al. 2019): random and adaptive sampling, probabilities or labels."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.attacks.extraction import KnockoffNets
from bastion.exceptions import CapabilityError, ValidationError
from bastion.models import LabelOnly


def knockoff(pool, **kwargs):
    return KnockoffNets(pool, epochs=kwargs.pop("epochs", 15), **kwargs)


def test_random_knockoff_agrees_with_the_target_above_chance(digits_mlp, digits_split):
    digits_mlp.reset_queries()
    result = knockoff(digits_split["pool"]).extract(
        digits_mlp, budget=250, x_eval=digits_split["x_eval"], y_eval=digits_split["y_eval"]
    )
    assert digits_mlp.queries == result.queries_used == 250
    assert result.fidelity > 0.6
    assert result.accuracy > 0.6


def test_label_only_knockoff_agrees_with_the_target_above_chance(digits_mlp, digits_split):
    result = knockoff(digits_split["pool"], output="labels").extract(
        LabelOnly(digits_mlp), budget=250, x_eval=digits_split["x_eval"]
    )
    assert result.fidelity > 0.6
    assert result.confidence_error_max is None


def test_adaptive_knockoff_spends_exactly_its_budget_on_clusters(digits_mlp, digits_split):
    digits_mlp.reset_queries()
    attack = knockoff(digits_split["pool"], sampling="adaptive", reward="all", round_size=50)
    result = attack.extract(digits_mlp, budget=230, x_eval=digits_split["x_eval"])
    assert digits_mlp.queries == result.queries_used == 230
    assert result.fidelity > 0.6


def test_adaptive_knockoff_with_labels_uses_the_loss_reward(digits_mlp, digits_split):
    groups = np.arange(len(digits_split["pool"])) % 5
    attack = knockoff(digits_split["pool"], sampling="adaptive", output="labels", reward="loss", groups=groups)
    result = attack.extract(LabelOnly(digits_mlp), budget=200, x_eval=digits_split["x_eval"])
    assert result.queries_used == 200
    assert result.fidelity > 0.5


def test_budget_beyond_the_pool_queries_each_image_once(breast_cancer, breast_cancer_logistic):
    result = knockoff(breast_cancer.x_train[:80], epochs=5).extract(breast_cancer_logistic, budget=500)
    assert result.queries_used == 80


def test_same_seed_gives_the_same_substitute(breast_cancer, breast_cancer_logistic):
    attack = knockoff(breast_cancer.x_train[:100], sampling="adaptive", epochs=3, round_size=20, seed=1)
    first, second = (attack.extract(breast_cancer_logistic, budget=60) for _ in range(2))
    x = breast_cancer.x_test
    np.testing.assert_array_equal(first.stolen.predict_proba(x), second.stolen.predict_proba(x))


def test_probabilities_from_a_label_only_target_are_refused(digits_mlp, digits_split):
    with pytest.raises(CapabilityError, match="KnockoffNets needs a model with 'scores'"):
        knockoff(digits_split["pool"]).extract(LabelOnly(digits_mlp), budget=100)


def test_certainty_reward_needs_probabilities(digits_split):
    with pytest.raises(ValidationError, match="`reward` 'certainty' needs the target's probabilities"):
        KnockoffNets(digits_split["pool"], sampling="adaptive", output="labels", reward="certainty")


def test_pool_of_the_wrong_shape_is_refused(digits_mlp, breast_cancer):
    with pytest.raises(ValidationError, match="`pool` must have shape \\(n, 1, 8, 8\\)"):
        knockoff(breast_cancer.x_train).extract(digits_mlp, budget=10)


def test_random_sampling_accepts_a_pool_smaller_than_n_clusters(digits):
    assert KnockoffNets(digits.x_train[:5], sampling="random").n_clusters == 10


def test_adaptive_sampling_refuses_more_clusters_than_pool_images(digits):
    with pytest.raises(ValidationError, match=r"`n_clusters` must be an int in \[1, 5\], got 10"):
        KnockoffNets(digits.x_train[:5], sampling="adaptive")
