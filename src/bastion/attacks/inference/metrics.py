"""Exact ROC metrics of membership scores: the curve, its area, the TPR at a fixed FPR.

Members are the positives. Metrics are exact: no interpolation, ties counted as half.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from bastion.exceptions import InputTypeError, ValidationError
from bastion.validation import check_scalar


@dataclass(frozen=True)
class RocCurve:
    """An exact ROC curve: one point per distinct score threshold, from (0, 0) to (1, 1).

    Attributes:
        fpr: false-positive rates, non-decreasing, in [0, 1].
        tpr: true-positive rates, non-decreasing, in [0, 1].
        thresholds: the score at or above which a record is called a member at that point
            (``inf`` for the first point).
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


def check_scores(scores_members: Any, scores_nonmembers: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate the two score vectors of a membership evaluation; return them as float64.

    Raises:
        InputTypeError: a vector is not numeric.
        ValidationError: a vector is empty, not one-dimensional, or holds NaN/inf.
    """
    arrays = []
    for name, value in (("scores_members", scores_members), ("scores_nonmembers", scores_nonmembers)):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            received = type(value).__name__
            raise InputTypeError(f"`{name}` must be a numeric vector (n,), got {received}: {error}") from error
        if array.ndim != 1 or array.size == 0:
            raise ValidationError(f"`{name}` must be a non-empty vector (n,), got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValidationError(f"`{name}` must be finite, got {int(np.sum(~np.isfinite(array)))} NaN/inf values")
        arrays.append(array)
    return arrays[0], arrays[1]


def roc_curve(scores_members: np.ndarray, scores_nonmembers: np.ndarray) -> RocCurve:
    """The exact ROC curve of membership scores (members are the positives)."""
    scores_members, scores_nonmembers = check_scores(scores_members, scores_nonmembers)
    scores = np.concatenate([scores_members, scores_nonmembers])
    positive = np.concatenate([np.ones(len(scores_members)), np.zeros(len(scores_nonmembers))])
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    # One point per distinct threshold: the last index of each run of equal scores.
    last = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])
    true_positives = np.cumsum(positive)[last]
    false_positives = (last + 1) - true_positives
    return RocCurve(
        fpr=np.r_[0.0, false_positives / len(scores_nonmembers)],
        tpr=np.r_[0.0, true_positives / len(scores_members)],
        thresholds=np.r_[np.inf, scores[last]],
    )


def roc_auc(scores_members: np.ndarray, scores_nonmembers: np.ndarray) -> float:
    """Area under the ROC curve: P(member score > non-member score) + P(tie) / 2.

    Computed exactly with the Mann-Whitney rank statistic (average ranks for ties).
    """
    scores_members, scores_nonmembers = check_scores(scores_members, scores_nonmembers)
    ranks = rankdata(np.concatenate([scores_members, scores_nonmembers]))
    n_in, n_out = len(scores_members), len(scores_nonmembers)
    return float((ranks[:n_in].sum() - n_in * (n_in + 1) / 2) / (n_in * n_out))


def tpr_at_fpr(curve: RocCurve, fpr: float) -> float:
    """The highest true-positive rate among thresholds whose false-positive rate is ``<= fpr``.

    With ``m`` non-members the achievable rates are multiples of ``1/m``: below ``1/m`` this
    is the TPR at zero false positives.

    Raises:
        InputTypeError: ``curve`` is not a :class:`RocCurve`.
        ValidationError: ``fpr`` is not in [0, 1].
    """
    if not isinstance(curve, RocCurve):
        raise InputTypeError(f"`curve` must be a RocCurve (from roc_curve), got {type(curve).__name__}")
    fpr = check_scalar(fpr, "fpr", low=0, high=1)
    return float(curve.tpr[curve.fpr <= fpr + 1e-12].max())
