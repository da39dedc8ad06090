"""Membership inference: the attack base class and the per-record quantities attacks score.

A membership inference attack answers, for a labelled record ``(x, y)``: was it in the
target model's training set? Every attack here follows one protocol:

1. ``fit(model, x_population, y_population)``: the attacker prepares with what it holds,
   a pool of records drawn from the same distribution as the target's training data but
   *disjoint* from it (shadow and reference models are trained on it; threshold attacks
   need nothing and only validate);
2. ``score(model, x, y)``: one membership score per record, ``(n,)`` float64, higher
   meaning "more likely a member".

:func:`bastion.attacks.inference.evaluation.evaluate_membership` measures an attack;
:mod:`bastion.attacks.inference.metrics` holds the exact ROC metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bastion.exceptions import NotFittedError, ValidationError
from bastion.mixins import ParamsReprMixin
from bastion.models.base import GRADIENTS, SCORES, Model, require
from bastion.validation import check_labels

# The smallest positive float32: a probability a float32 softmax rounds to 0 becomes this,
# so the log stays finite.
_TINY = float(np.finfo(np.float32).tiny)


def log_probabilities(model: Model, x: np.ndarray) -> np.ndarray:
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


class MembershipAttack(ParamsReprMixin):
    """Base of the membership inference attacks: validation around ``_fit`` and ``_score``.

    Subclasses set ``needs_fit`` (whether ``score`` requires a prior ``fit``) and implement
    ``_score(model, x, y) -> (n,)`` and, if they prepare, ``_fit(model, x, y)``. Every attack
    needs the ``"scores"`` capability: membership leaks through confidences, and a
    label-only model is refused with a :class:`~bastion.exceptions.CapabilityError`.
    """

    requires = SCORES
    needs_fit = False

    def _check(self, model: Model, x: Any, y: Any, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
        require(model, self.requires, type(self).__name__)
        x = model.check_x(x, x_name)
        y = check_labels(y, y_name, n_samples=len(x), n_classes=model.n_classes)
        return x, y

    def fit(self, model: Model, x_population: np.ndarray, y_population: np.ndarray) -> MembershipAttack:
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

    def _fit(self, model: Model, x: np.ndarray, y: np.ndarray) -> None:
        """Threshold attacks need no preparation: their scores are the model's own outputs."""

    def score(self, model: Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
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

    def _score(self, model: Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError
