"""Exact ROC metrics and the MembershipResult."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sklearn_roc_curve

from bastion.attacks.inference import membership_metrics, roc_auc, roc_curve, tpr_at_fpr
from bastion.exceptions import InputTypeError, ValidationError


@pytest.fixture()
def tied_scores(rng):
    # Rounded scores: many ties between and within the two groups.
    members = np.round(rng.normal(0.5, 1.0, 300), 1)
    nonmembers = np.round(rng.normal(0.0, 1.0, 400), 1)
    return members, nonmembers


def test_roc_auc_matches_sklearn_with_ties(tied_scores):
    members, nonmembers = tied_scores
    truth = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    expected = roc_auc_score(truth, np.r_[members, nonmembers])
    assert roc_auc(members, nonmembers) == pytest.approx(expected, abs=1e-12)


def test_roc_curve_matches_sklearn_points(tied_scores):
    members, nonmembers = tied_scores
    truth = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    fpr, tpr, _ = sklearn_roc_curve(truth, np.r_[members, nonmembers], drop_intermediate=False)
    curve = roc_curve(members, nonmembers)
    np.testing.assert_allclose(curve.fpr, fpr)
    np.testing.assert_allclose(curve.tpr, tpr)


def test_tpr_at_fpr_takes_the_best_threshold_within_the_budget():
    members = np.array([10.0, 9.0, 5.0, -1.0])
    nonmembers = np.array([8.0] + [0.0] * 99)
    curve = roc_curve(members, nonmembers)
    # Zero false positives admit the two top members; one false positive (1%) admits 3.
    assert tpr_at_fpr(curve, 0.001) == 0.5
    assert tpr_at_fpr(curve, 0.01) == 0.75


def test_perfect_separation_scores_one_everywhere():
    result = membership_metrics(np.array([3.0, 4.0]), np.array([1.0, 2.0]))
    assert (result.auc, result.tpr_at_fpr_0_1pct, result.tpr_at_fpr_1pct, result.balanced_accuracy) == (1, 1, 1, 1)


def test_constant_scores_are_chance():
    result = membership_metrics(np.zeros(50), np.zeros(70))
    assert result.auc == 0.5
    assert result.advantage == 0.0
    assert result.tpr_at_fpr_1pct == 0.0


def test_balanced_accuracy_is_the_best_threshold_in_hindsight(tied_scores):
    members, nonmembers = tied_scores
    thresholds = np.unique(np.r_[members, nonmembers])
    brute = max(((members >= t).mean() + (nonmembers < t).mean()) / 2 for t in thresholds)
    result = membership_metrics(members, nonmembers)
    assert result.balanced_accuracy == pytest.approx(brute)
    assert result.advantage == pytest.approx(2 * brute - 1)


def test_result_is_frozen_and_json_ready(tied_scores):
    result = membership_metrics(*tied_scores, attack="demo")
    decoded = json.loads(json.dumps(result.to_dict()))
    assert decoded["attack"] == "demo"
    assert decoded["roc_fpr"][0] == 0.0 and decoded["roc_tpr"][-1] == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.auc = 1.0


def test_roc_points_are_thinned_but_keep_both_ends(rng):
    result = membership_metrics(rng.normal(size=2000), rng.normal(size=2000))
    assert len(result.roc_fpr) <= 512
    assert (result.roc_fpr[0], result.roc_tpr[0], result.roc_fpr[-1], result.roc_tpr[-1]) == (0, 0, 1, 1)


def test_non_finite_scores_are_refused_by_name():
    with pytest.raises(ValidationError, match=r"scores_nonmembers.*finite"):
        membership_metrics(np.zeros(3), np.array([0.0, np.nan]))


def test_empty_scores_are_refused_by_name():
    with pytest.raises(ValidationError, match=r"scores_members.*non-empty"):
        membership_metrics(np.array([]), np.zeros(3))


def test_roc_auc_refuses_nan_scores_by_name():
    with pytest.raises(ValidationError, match=r"scores_members.*finite"):
        roc_auc(np.array([np.nan, 1.0]), np.zeros(2))


def test_roc_curve_refuses_empty_scores_by_name():
    with pytest.raises(ValidationError, match=r"scores_nonmembers.*non-empty"):
        roc_curve(np.ones(2), np.array([]))


def test_non_numeric_scores_are_a_type_error_naming_the_argument():
    with pytest.raises(InputTypeError, match=r"scores_members.*numeric"):
        membership_metrics(np.array(["a", "b"]), np.zeros(2))


@pytest.mark.parametrize("fpr", [-0.1, 1.5, float("nan")])
def test_tpr_at_fpr_refuses_a_rate_outside_zero_one(fpr):
    curve = roc_curve(np.array([1.0, 2.0]), np.array([0.0, 1.5]))
    with pytest.raises(ValidationError, match=r"`fpr` must be a float in \[0, 1\]"):
        tpr_at_fpr(curve, fpr)


def test_tpr_at_fpr_refuses_a_non_curve():
    with pytest.raises(InputTypeError, match="`curve` must be a RocCurve"):
        tpr_at_fpr(None, 0.01)
