"""ConfidenceThreshold: the label-free confidence attack."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from bastion.attacks.inference import ConfidenceThreshold, evaluate_membership
from bastion.exceptions import CapabilityError


def test_confidence_threshold_beats_chance_on_an_overfit_model(overfit_mlp, membership_split):
    s = membership_split
    result = evaluate_membership(
        overfit_mlp, ConfidenceThreshold(), s.x_members, s.y_members, s.x_nonmembers, s.y_nonmembers
    )
    assert result.auc >= 0.6


def test_score_ignores_the_label(digits_mlp, digits):
    x = digits.x_test[:40]
    attack = ConfidenceThreshold()
    np.testing.assert_array_equal(
        attack.score(digits_mlp, x, digits.y_test[:40]), attack.score(digits_mlp, x, np.zeros(40))
    )


def test_score_ranks_records_as_the_top_probability_does(digits_mlp, digits):
    x, y = digits.x_test, digits.y_test
    top = digits_mlp.predict_proba(x).max(axis=1)
    unsaturated = top < 0.999
    scores = ConfidenceThreshold().score(digits_mlp, x[unsaturated], y[unsaturated])
    assert spearmanr(scores, top[unsaturated]).statistic > 0.999


def test_label_only_model_is_refused_naming_scores(label_only_model, breast_cancer):
    with pytest.raises(CapabilityError, match="'scores'"):
        ConfidenceThreshold().score(label_only_model, breast_cancer.x_test, breast_cancer.y_test)
