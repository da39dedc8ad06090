"""Measuring a membership attack: :class:`MembershipResult` and :func:`evaluate_membership`.

:func:`evaluate_membership` runs ``score`` on known members and non-members and measures
the attack with :class:`MembershipResult`: ROC AUC, the true-positive rate at 0.1% and 1%
false-positive rate (Carlini et al. 2022 argue that an attack matters when it
confidently identifies *some* members, which an average-case AUC hides), balanced accuracy
and the ROC curve.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.attacks.inference.metrics import RocCurve, check_scores, roc_auc, roc_curve, tpr_at_fpr
from bastion.exceptions import InputTypeError
from bastion.mixins import ResultMixin
from bastion.models.base import Model


@dataclass(frozen=True)
class MembershipResult(ResultMixin):
    """How well one membership attack separated members from non-members.

    Rates are fractions in [0, 1]. ``balanced_accuracy`` and ``advantage`` use the best
    threshold in hindsight (chosen knowing the answers), as reported in the literature
    (Yeom et al. 2018, Def. 4 for the advantage); they are optimistic for a real attacker,
    who must pick a threshold beforehand. The ROC curve is thinned to at most 512 points.

    Attributes:
        attack: the attack's repr.
        n_members, n_nonmembers: how many records of each kind were scored.
        auc: area under the ROC curve (0.5 = chance).
        tpr_at_fpr_0_1pct: true-positive rate at 0.1% false-positive rate.
        tpr_at_fpr_1pct: true-positive rate at 1% false-positive rate.
        balanced_accuracy: ``max_t (TPR(t) + 1 - FPR(t)) / 2``.
        advantage: ``max_t TPR(t) - FPR(t)`` (= 2 balanced_accuracy - 1).
        roc_fpr, roc_tpr: ROC curve points, for plotting.
        queries_used: inputs the target answered while scoring.
        seconds: wall-clock time of scoring (not of ``fit``).
    """

    attack: str
    n_members: int
    n_nonmembers: int
    auc: float
    tpr_at_fpr_0_1pct: float
    tpr_at_fpr_1pct: float
    balanced_accuracy: float
    advantage: float
    roc_fpr: tuple[float, ...]
    roc_tpr: tuple[float, ...]
    queries_used: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One sentence: how well the attack tells members apart (AUC), and the verdict.

        The verdict is "leaks membership" from AUC 0.6, "leaks a little" from 0.55, else
        "no clear leak".
        """
        name = self.attack.split("(", 1)[0] or "The attack"
        if self.auc >= 0.6:
            verdict = "leaks membership"
        elif self.auc >= 0.55:
            verdict = "leaks a little"
        else:
            verdict = "no clear leak"
        return (
            f"{name} tells training members from non-members with AUC {self.auc:.2f} (0.5 is chance; "
            f"{self.n_members} members, {self.n_nonmembers} non-members): {verdict}"
        )


def _thin(curve: RocCurve, max_points: int = 512) -> tuple[tuple[float, ...], tuple[float, ...]]:
    keep = np.unique(np.r_[np.linspace(0, len(curve.fpr) - 1, min(max_points, len(curve.fpr))).round().astype(int)])
    return tuple(float(v) for v in curve.fpr[keep]), tuple(float(v) for v in curve.tpr[keep])


def membership_metrics(
    scores_members: np.ndarray,
    scores_nonmembers: np.ndarray,
    *,
    attack: str = "",
    queries_used: int = 0,
    seconds: float = 0.0,
) -> MembershipResult:
    """Measure membership scores already computed: the metrics of :class:`MembershipResult`.

    Args:
        scores_members: ``(n,)`` scores of records in the training set.
        scores_nonmembers: ``(m,)`` scores of records outside it.
        attack, queries_used, seconds: copied into the result.

    Raises:
        ValidationError: an empty or non-finite score vector.
    """
    members, nonmembers = check_scores(scores_members, scores_nonmembers)
    curve = roc_curve(members, nonmembers)
    advantage = float(np.max(curve.tpr - curve.fpr))
    roc_fpr, roc_tpr = _thin(curve)
    return MembershipResult(
        attack=attack,
        n_members=len(members),
        n_nonmembers=len(nonmembers),
        auc=roc_auc(members, nonmembers),
        tpr_at_fpr_0_1pct=tpr_at_fpr(curve, 0.001),
        tpr_at_fpr_1pct=tpr_at_fpr(curve, 0.01),
        balanced_accuracy=(1 + advantage) / 2,
        advantage=advantage,
        roc_fpr=roc_fpr,
        roc_tpr=roc_tpr,
        queries_used=int(queries_used),
        seconds=float(seconds),
    )


def evaluate_membership(
    model: Model,
    attack: Any,
    x_members: np.ndarray,
    y_members: np.ndarray,
    x_nonmembers: np.ndarray,
    y_nonmembers: np.ndarray,
) -> MembershipResult:
    """Score known members and non-members of ``model``'s training set and measure the attack.

    This is also the way to measure a hardened model's leakage (a PATE student, a model
    trained with weight decay): ``evaluate_membership(student, LossThreshold(), x_train,
    y_train, x_test, y_test)``. The model comes first, as in
    :func:`bastion.attacks.evaluate` ``(model, attack, ...)``.

    Args:
        model: the target, a bastion Model with ``"scores"``.
        attack: a membership attack (fitted first if it needs it).
        x_members, y_members: records of the training set, ``(n, *input_shape)``, ``(n,)``.
        x_nonmembers, y_nonmembers: records outside it, ``(m, *input_shape)``, ``(m,)``.

    Raises:
        InputTypeError: ``attack`` is not a membership attack.
        CapabilityError: the model answers labels only.
        NotFittedError: the attack needs ``fit`` first.
    """
    if isinstance(attack, type) or not hasattr(attack, "score"):
        received = type(attack).__name__
        if isinstance(attack, type):
            received = f"the class {attack.__name__} (instantiate it)"
        raise InputTypeError(f"`attack` must be a membership attack with score(model, x, y), got {received}")
    queries_before = model.queries if hasattr(model, "queries") else 0
    started = time.perf_counter()
    scores_members = attack.score(model, x_members, y_members)
    scores_nonmembers = attack.score(model, x_nonmembers, y_nonmembers)
    seconds = time.perf_counter() - started
    queries = (model.queries - queries_before) if hasattr(model, "queries") else 0
    return membership_metrics(
        scores_members, scores_nonmembers, attack=repr(attack), queries_used=queries, seconds=seconds
    )
