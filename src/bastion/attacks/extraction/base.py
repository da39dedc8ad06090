"""Shared machinery of extraction attacks: the query budget, the result, fidelity.

Every extraction attack is one :class:`ExtractionAttack` subclass whose ``_steal`` sees the
target only through a :class:`QueryBudget`: a black-box view that refuses, *before* the
call, any query that would overrun the budget. No attack can overrun its budget, even by a
bug. ``queries_used`` is read from the target's own counter.

Who holds which data:

- the attacker's data (a surrogate pool, a seed set) are arguments of the attack's
  ``__init__``: they are part of the threat model, fixed before any query;
- the evaluation set (``x_eval``, ``y_eval`` of ``extract``) belongs to whoever scores the
  attack. Fidelity is measured by querying a shallow copy of the target (``copy.copy``), so
  those queries move no counter of the target and never count against the budget (a remote
  server still sees them). Without ``x_eval``, fidelity is measured on points drawn
  uniformly from the target's input range (Tramèr et al. 2016's ``R_unif``).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.exceptions import BudgetExceededError, ValidationError
from bastion.mixins import ParamsReprMixin, ResultMixin
from bastion.models.base import LABELS, SCORES, Model, require
from bastion.models.wrappers import LEAVES, ForwardingModel
from bastion.validation import check_labels, check_scalar

UNIFORM_EVAL_SIZE = 1000


class QueryBudget(ForwardingModel):
    """A black-box view of a Model that never lets more than ``budget`` inputs through.

    A :class:`~bastion.models.wrappers.ForwardingModel` whose counter refuses: it offers the
    wrapped model's ``"labels"``, ``"scores"`` and ``"leaves"`` (never ``"gradients"``:
    extraction is black-box) and raises :class:`~bastion.exceptions.BudgetExceededError`
    before forwarding a batch that would take the total over ``budget``.

    Args:
        model: the target Model.
        budget: the most inputs the target may answer through this view.
    """

    def __init__(self, model: Model, budget: int) -> None:
        super().__init__(model, "QueryBudget")
        self.budget = check_scalar(budget, "budget", kind=int, low=0)
        self.capabilities = frozenset(model.capabilities) & {LABELS, SCORES, LEAVES}

    @property
    def remaining(self) -> int:
        """Queries left in the budget."""
        return self.budget - self.queries

    def _count(self, n: int) -> None:
        # Refuse before the batch is forwarded: the target never answers past the budget.
        if n > self.remaining:
            raise BudgetExceededError(
                f"query budget exceeded: a batch of {n} inputs would take the total to "
                f"{self.queries + n}, over the budget of {self.budget} ({self.remaining} left)"
            )
        super()._count(n)

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)

    def predict_leaf(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The target's leaf identities and scores; spends ``n`` queries of the budget."""
        require(self, LEAVES, "QueryBudget.predict_leaf")
        return self.model.predict_leaf(self._accept(x))

    def __repr__(self) -> str:
        return f"QueryBudget({self.model!r}, budget={self.budget})"


@dataclass(frozen=True)
class ExtractionResult(ResultMixin):
    """What one extraction attack stole from one target, and at what cost.

    Attributes:
        attack: the attack's repr (its class and hyperparameters).
        stolen: the extracted model, a bastion Model answering like the target.
        budget: the query budget the attack was given.
        queries_used: inputs the target answered for the attack (from its own counter,
            never above ``budget``).
        fidelity: fraction of evaluation inputs on which the stolen model's label equals
            the target's, in [0, 1] (Tramèr et al.'s agreement ``1 - R``).
        accuracy: the stolen model's accuracy on the evaluation labels, in [0, 1]; ``None``
            when no labels were given.
        confidence_error_max: the largest absolute difference between the stolen model's and
            the target's probabilities on the evaluation inputs; ``None`` when either answers
            labels only.
        n_eval: size of the evaluation set.
        seconds: wall-clock time of the attack (querying and training; not the evaluation).
    """

    attack: str
    stolen: Any
    budget: int
    queries_used: int
    fidelity: float
    accuracy: float | None
    confidence_error_max: float | None
    n_eval: int
    seconds: float

    def summary(self) -> str:
        """One sentence: how closely the stolen copy agrees with the target, and the verdict.

        The verdict is "the model can be duplicated" from 90% agreement, "partly duplicated"
        from 70%, else "extraction largely failed".
        """
        name = self.attack.split("(", 1)[0]
        if self.fidelity >= 0.9:
            verdict = "the model can be duplicated"
        elif self.fidelity >= 0.7:
            verdict = "partly duplicated"
        else:
            verdict = "extraction largely failed"
        return (
            f"{name} built a copy that gives the target's label on {self.fidelity:.0%} of {self.n_eval} "
            f"inputs after {self.queries_used} queries: {verdict}"
        )


class ExtractionAttack(ParamsReprMixin):
    """Base class of extraction attacks: ``extract(model, *, budget)``.

    Subclasses take ``seed`` in ``__init__`` (stored as ``self.seed``; it seeds every random
    choice), set ``requires`` (``"labels"`` or ``"scores"``), implement
    ``minimum_budget(model)`` and ``_steal(target, budget, seed)`` returning the stolen
    Model; ``_extra(stolen, target_copy, x_eval, y_eval)`` may return more result fields
    for a subclass of :class:`ExtractionResult` named by ``result_class``.
    """

    requires: str = SCORES
    seed: int = 0
    result_class: type[ExtractionResult] = ExtractionResult

    def minimum_budget(self, model: Model) -> int:
        """The fewest queries this attack can work with against ``model``."""
        return 1

    def extract(
        self,
        model: Model,
        *,
        budget: int,
        x_eval: np.ndarray | None = None,
        y_eval: np.ndarray | None = None,
    ) -> ExtractionResult:
        """Steal ``model`` with at most ``budget`` queries and measure how well.

        Args:
            model: the target, any bastion Model with the capability the attack needs.
            budget: the most inputs the target may answer for the attack.
            x_eval: held-out inputs ``(n, *model.input_shape)`` to measure fidelity on; the
                attacker never sees them. Default: 1,000 points uniform in ``model.clip``.
            y_eval: their true labels ``(n,)``, to report the stolen model's accuracy.

        Returns:
            An :class:`ExtractionResult` (or the attack's subclass of it).

        Raises:
            CapabilityError: the model lacks what the attack needs (e.g. scores).
            ValidationError: ``budget`` below the attack's minimum, or bad evaluation data.
            BudgetExceededError: never in a correct attack; the budget guard's last word.
        """
        require(model, self.requires, type(self).__name__)
        minimum = self.minimum_budget(model)
        if isinstance(budget, (int, np.integer)) and not isinstance(budget, bool) and budget < minimum:
            raise ValidationError(
                f"`budget` must be at least {minimum} for {type(self).__name__} against this "
                f"{model.n_classes}-class model with {int(np.prod(model.input_shape))} features "
                f"({self._minimum_reason(model)}), got {budget}"
            )
        budget = check_scalar(budget, "budget", kind=int, low=minimum)
        seed = self.seed
        x_eval, y_eval = self._evaluation_set(model, x_eval, y_eval, seed)

        before = model.queries
        started = time.perf_counter()
        stolen = self._steal(QueryBudget(model, budget), budget, seed)
        seconds = time.perf_counter() - started
        queries_used = model.queries - before

        reference = copy.copy(model)
        fields = measure_fidelity(stolen, reference, x_eval, y_eval)
        fields.update(self._extra(stolen, reference, x_eval, y_eval))
        return self.result_class(
            attack=repr(self),
            stolen=stolen,
            budget=budget,
            queries_used=int(queries_used),
            seconds=float(seconds),
            **fields,
        )

    def _minimum_reason(self, model: Model) -> str:
        return "its minimum"

    def _steal(self, target: QueryBudget, budget: int, seed: int) -> Any:
        raise NotImplementedError

    def _extra(self, stolen: Model, target: Model, x_eval: np.ndarray, y_eval: np.ndarray | None) -> dict[str, Any]:
        return {}

    @staticmethod
    def _evaluation_set(model: Model, x_eval: Any, y_eval: Any, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        if x_eval is None:
            if y_eval is not None:
                raise ValidationError("`y_eval` was given without `x_eval`; pass both or neither")
            return uniform_inputs(model, UNIFORM_EVAL_SIZE, np.random.default_rng([seed, 1])), None
        x_eval = model.check_x(x_eval, "x_eval")
        if y_eval is not None:
            y_eval = check_labels(y_eval, "y_eval", n_samples=len(x_eval), n_classes=model.n_classes)
        return x_eval, y_eval


def uniform_inputs(model: Model, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` float32 inputs drawn uniformly from ``model.clip``, shaped like its samples."""
    low, high = model.clip
    return rng.uniform(low, high, size=(n, *model.input_shape)).astype(np.float32)


def measure_fidelity(stolen: Model, target: Model, x: np.ndarray, y: np.ndarray | None) -> dict[str, Any]:
    """Agreement, accuracy and confidence error of ``stolen`` against ``target`` on ``x``.

    Queries ``target`` directly: pass a copy (``copy.copy``) to keep them off its counter.

    Returns:
        ``fidelity``, ``accuracy`` (``None`` without ``y``), ``confidence_error_max``
        (``None`` unless both models answer scores) and ``n_eval``.
    """
    scored = SCORES in stolen.capabilities and SCORES in target.capabilities
    if scored:
        stolen_scores = stolen.predict_proba(x).astype(np.float64)
        target_scores = target.predict_proba(x).astype(np.float64)
        stolen_labels = stolen_scores.argmax(axis=1)
        confidence_error = float(np.abs(stolen_scores - target_scores).max())
    else:
        stolen_labels = stolen.predict(x)
        confidence_error = None
    target_labels = target.predict(x)
    return {
        "fidelity": float(np.mean(stolen_labels == target_labels)),
        "accuracy": None if y is None else float(np.mean(stolen_labels == y)),
        "confidence_error_max": confidence_error,
        "n_eval": len(x),
    }
