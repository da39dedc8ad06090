"""Membership inference: the attack base class, exact ROC metrics and the result object.

A membership inference attack answers, for a labelled record ``(x, y)``: was it in the
target model's training set? Every attack here follows one protocol:

1. ``fit(model, x_population, y_population)``: the attacker prepares with what it holds,
   a pool of records drawn from the same distribution as the target's training data but
   *disjoint* from it (shadow and reference models are trained on it; threshold attacks
   need nothing and only validate);
2. ``score(model, x, y)``: one membership score per record, ``(n,)`` float64, higher
   meaning "more likely a member".

:func:`evaluate_membership` runs ``score`` on known members and non-members and measures
the attack with :class:`MembershipResult`: ROC AUC, the true-positive rate at 0.1% and 1%
false-positive rate (Carlini et al. 2022 argue that an attack matters when it
confidently identifies *some* members, which an average-case AUC hides), balanced accuracy
and the ROC curve. Metrics are exact: no interpolation, ties counted as half.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata

from bastion.exceptions import InputTypeError, NotFittedError, ValidationError
from bastion.models.base import GRADIENTS, SCORES, require
from bastion.validation import check_labels, check_scalar

# The smallest positive float32: a probability a float32 softmax rounds to 0 becomes this,
# so the log stays finite.
_TINY = float(np.finfo(np.float32).tiny)


def log_probabilities(model: Any, x: np.ndarray) -> np.ndarray:
    """Log class probabilities ``(n, n_classes)`` float64, as precise as the model allows.

    White-box models give their logits, whose float64 log-softmax keeps the differences a
    saturated float32 softmax would round away (an overfit model answers p = 1.0 for most
    members; the loss and the logit-scaled confidence then need the logits to tell them
    apart). Black-box models give ``log(predict_proba)``.
    """
    if GRADIENTS in model.capabilities and hasattr(model, "logits"):
        logits = torch.from_numpy(np.asarray(model.logits(x), dtype=np.float64))
        return torch.log_softmax(logits, dim=1).numpy()
    probabilities = np.asarray(model.predict_proba(x), dtype=np.float64)
    return np.log(np.clip(probabilities, _TINY, 1.0))


def cross_entropy(log_probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-record cross-entropy loss ``-log p_y``, ``(n,)`` in nats.

    Computed as ``log(1 + exp(-phi))`` from the logit-scaled confidence ``phi``: where
    ``p_y`` rounds to 1 even in float64, the other classes' log-probabilities still hold
    the loss (about ``sum_{j != y} p_j``), so confident records keep distinct losses.
    """
    return np.logaddexp(0.0, -logit_confidence(log_probs, y))


def logit_confidence(log_probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The logit-scaled confidence ``phi = log(p_y / (1 - p_y))`` of the true class, ``(n,)``.

    Computed as ``log p_y - logsumexp_{j != y} log p_j`` so that it stays finite and exact
    when ``p_y`` rounds to 1 (Carlini et al. 2022 use this scaling because it makes a
    record's confidence across models approximately Gaussian).
    """
    rows = np.arange(len(y))
    others = log_probs.copy()
    others[rows, y] = -np.inf
    peak = others.max(axis=1, keepdims=True)
    log_rest = peak[:, 0] + np.log(np.exp(others - peak).sum(axis=1))
    return log_probs[rows, y] - log_rest


class MembershipAttack:
    """Base of the membership inference attacks: validation around ``_fit`` and ``_score``.

    Subclasses set ``needs_fit`` (whether ``score`` requires a prior ``fit``) and implement
    ``_score(model, x, y) -> (n,)`` and, if they prepare, ``_fit(model, x, y)``. Every attack
    needs the ``"scores"`` capability: membership leaks through confidences, and a
    label-only model is refused with a :class:`~bastion.exceptions.CapabilityError`.
    """

    requires = SCORES
    needs_fit = False

    def _check(self, model: Any, x: Any, y: Any, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
        require(model, self.requires, type(self).__name__)
        x = model.check_x(x, x_name)
        y = check_labels(y, y_name, n_samples=len(x), n_classes=model.n_classes)
        return x, y

    def fit(self, model: Any, x_population: np.ndarray, y_population: np.ndarray) -> MembershipAttack:
        """Prepare the attack with the attacker's population pool; return ``self``.

        Args:
            model: the target, a bastion Model with ``"scores"``.
            x_population: records ``(m, *model.input_shape)`` from the target's data
                distribution, none of them in its training set.
            y_population: their labels ``(m,)``.

        Raises:
            CapabilityError: the model answers labels only.
            ValidationError: bad shapes, ranges or labels.
        """
        x, y = self._check(model, x_population, y_population, "x_population", "y_population")
        self._fit(model, x, y)
        self.fitted_ = True
        self.fitted_on_ = (tuple(model.input_shape), int(model.n_classes))
        return self

    def _fit(self, model: Any, x: np.ndarray, y: np.ndarray) -> None:
        """Threshold attacks need no preparation: their scores are the model's own outputs."""

    def score(self, model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Membership scores of the records ``(x, y)``: ``(n,)`` float64, higher = member.

        Raises:
            CapabilityError: the model answers labels only.
            NotFittedError: the attack needs ``fit`` first (shadow models, LiRA).
            ValidationError: bad shapes, ranges or labels.
        """
        x, y = self._check(model, x, y, "x", "y")
        if self.needs_fit and not getattr(self, "fitted_", False):
            raise NotFittedError(
                f"{type(self).__name__} must be fitted before scoring: call "
                "fit(model, x_population, y_population) with the attacker's data pool first"
            )
        fitted_on = getattr(self, "fitted_on_", None)
        if fitted_on is not None and fitted_on != (tuple(model.input_shape), int(model.n_classes)):
            raise ValidationError(
                f"`model` must be the model {type(self).__name__} was fitted against (input_shape "
                f"{fitted_on[0]}, {fitted_on[1]} classes), got input_shape {tuple(model.input_shape)} "
                f"and {model.n_classes} classes; fit the attack again on this model"
            )
        return np.asarray(self._score(model, x, y), dtype=np.float64)

    def _score(self, model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.endswith("_") and not callable(v)}
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({shown})"


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


@dataclass(frozen=True)
class MembershipResult:
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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


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
    attack: Any,
    model: Any,
    x_members: np.ndarray,
    y_members: np.ndarray,
    x_nonmembers: np.ndarray,
    y_nonmembers: np.ndarray,
) -> MembershipResult:
    """Score known members and non-members of ``model``'s training set and measure the attack.

    This is also the way to measure a hardened model's leakage (a PATE student, a model
    trained with weight decay): ``evaluate_membership(LossThreshold(), student, x_train,
    y_train, x_test, y_test)``.

    Args:
        attack: a membership attack (fitted first if it needs it).
        model: the target, a bastion Model with ``"scores"``.
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
