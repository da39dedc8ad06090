"""Scoring one evasion attack against one model."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.attacks.norms import sample_norms
from bastion.exceptions import InputTypeError, ValidationError
from bastion.mixins import ResultMixin
from bastion.models.base import Model
from bastion.models.sanity import warn_if_low_accuracy
from bastion.validation import check_labels, check_scalar


@dataclass(frozen=True)
class EvasionResult(ResultMixin):
    """How one evasion attack fared against one model on one batch.

    Attributes:
        attack: the attack's repr (its class and hyperparameters).
        n_samples: size of the evaluated batch.
        clean_accuracy: accuracy on the clean inputs, in [0, 1].
        robust_accuracy: accuracy on the adversarial inputs, in [0, 1].
        success_rate: among samples the model got right (untargeted) or all samples
            (targeted), the fraction the attack turned adversarial, in [0, 1].
        perturbation_linf_mean, perturbation_linf_max: L-inf norms of ``x_adv - x`` over
            the samples, in input units.
        perturbation_l2_mean, perturbation_l2_max: the same for the L2 norm.
        queries_used: inputs the model answered while the attack ran.
        seconds: wall-clock time of ``generate``.
        unbounded: whether the attack has no eps bound (HopSkipJump, Carlini-Wagner): it
            returns the smallest adversarial it finds, however large, so ``robust_accuracy``
            counts every perturbation it found.
        perturbation_l2_median, perturbation_linf_median: median norms of ``x_adv - x``
            over the successful adversarial examples (``None`` when none succeeded), in
            input units: for an unbounded attack, the size it takes to fool the model.
        eps: the bound an unbounded attack was scored against (``None``: not scored).
        eps_norm: the norm of ``eps`` (``"2"`` or ``"inf"``; ``None`` when not scored).
        robust_accuracy_at_eps: with ``eps``, the share of samples classified correctly
            whose adversarial is classified correctly too or lies farther than ``eps`` from the
            input, in [0, 1].
    """

    attack: str
    n_samples: int
    clean_accuracy: float
    robust_accuracy: float
    success_rate: float
    perturbation_linf_mean: float
    perturbation_linf_max: float
    perturbation_l2_mean: float
    perturbation_l2_max: float
    queries_used: int
    seconds: float
    unbounded: bool = False
    perturbation_l2_median: float | None = None
    perturbation_linf_median: float | None = None
    eps: float | None = None
    eps_norm: str | None = None
    robust_accuracy_at_eps: float | None = None

    def summary(self) -> str:
        """One sentence in plain words: how often the attack fooled the model, and the verdict.

        The verdict is "vulnerable" from a 20% success rate, "partly robust" from 5%, else
        "robust to this attack". An unbounded attack's sentence gives the median size of its
        successful perturbations, says no eps bound applied and, when scored against an
        eps, the robust accuracy there.
        """
        name = self.attack.split("(", 1)[0]
        if self.unbounded:
            return self._unbounded_summary(name)
        eps = re.search(r"\beps=([^,)]+)", self.attack)
        at = f" at eps {eps.group(1)}" if eps else ""
        if self.success_rate >= 0.2:
            verdict = "vulnerable"
        elif self.success_rate >= 0.05:
            verdict = "partly robust"
        else:
            verdict = "robust to this attack"
        return (
            f"{name}{at} fools the model on {self.success_rate:.0%} of the inputs it classified correctly "
            f"({self.n_samples} samples): {verdict}"
        )

    def _unbounded_summary(self, name: str) -> str:
        if self.perturbation_l2_median is None:
            found = f"{name} found no adversarial example ({self.n_samples} samples)"
        else:
            found = (
                f"{name} fools the model on {self.success_rate:.0%} of the inputs it classified correctly with "
                f"median perturbations of L2 {self.perturbation_l2_median:.3g} and L-inf "
                f"{self.perturbation_linf_median:.3g} ({self.n_samples} samples)"
            )
        if self.eps is None:
            return f"{found}; it is unbounded, so no eps bound applied (pass eps to score it against one)"
        return (
            f"{found}; scored against eps {self.eps:g} (L{self.eps_norm}), robust accuracy is "
            f"{self.robust_accuracy_at_eps:.0%}"
        )


def evaluate(
    model: Model, attack: Any, x: np.ndarray, y: np.ndarray, *, target: Any = None, eps: float | None = None
) -> EvasionResult:
    """Run ``attack`` on ``(x, y)`` and measure accuracy, success, perturbation and cost.

    Args:
        model: a bastion Model.
        attack: an evasion attack (anything with ``generate``).
        x: clean inputs ``(n, *model.input_shape)``.
        y: true labels ``(n,)``.
        target: ``None`` (untargeted) or the target class(es), passed to ``generate``.
        eps: for an unbounded attack (no ``eps`` of its own: HopSkipJump, Carlini-Wagner),
            the bound to score it against, in its norm (``attack.norm``, L2 for
            Carlini-Wagner): a sample whose adversarial lies farther than ``eps`` counts as
            robust in ``robust_accuracy_at_eps``.

    Returns:
        An :class:`EvasionResult`. Queries count those of ``generate`` only, not the two
        accuracy measurements.

    Raises:
        InputTypeError: ``attack`` has no ``generate``.
        ValidationError: ``eps`` negative, or given for an attack with its own eps bound.

    Warns:
        ScalingMismatchWarning: the clean accuracy is far below what a trained model should
            reach (see :func:`bastion.models.sanity.low_accuracy_message`).
    """
    if not hasattr(attack, "generate"):
        raise InputTypeError(f"`attack` must be an evasion attack with generate(), got {type(attack).__name__}")
    unbounded = getattr(attack, "eps", None) is None
    if eps is not None:
        eps = check_scalar(eps, "eps", low=0)
        if not unbounded:
            raise ValidationError(
                f"`eps` scores an unbounded attack; {type(attack).__name__} is bounded by its own eps={attack.eps:g}"
            )
    x = model.check_x(x)
    y = check_labels(y, "y", n_samples=len(x), n_classes=model.n_classes)
    clean_correct = model.predict(x) == y
    warn_if_low_accuracy(float(clean_correct.mean()), model.n_classes, len(x))
    queries_before = model.queries
    started = time.perf_counter()
    x_adv = attack.generate(model, x, y, target=target)
    seconds = time.perf_counter() - started
    queries_used = model.queries - queries_before
    predictions = model.predict(x_adv)
    if target is None:
        success = ~clean_correct | (predictions != y)
        pool = clean_correct
    else:
        targets = np.broadcast_to(np.asarray(target), y.shape)
        success = predictions == targets
        pool = np.ones_like(clean_correct)
    delta = x_adv - x
    linf = sample_norms(delta, "inf")
    l2 = sample_norms(delta, "2")
    fooled = success & pool
    eps_norm = (getattr(attack, "norm", None) or "2") if eps is not None else None
    at_eps = None
    if eps is not None:
        size = linf if eps_norm == "inf" else l2
        # A sample the model gets wrong unperturbed is broken at every eps.
        at_eps = float((clean_correct & ((predictions == y) | (size > eps))).mean())
    return EvasionResult(
        attack=repr(attack),
        n_samples=len(x),
        clean_accuracy=float(clean_correct.mean()),
        robust_accuracy=float((predictions == y).mean()),
        success_rate=float(success[pool].mean()) if pool.any() else 0.0,
        perturbation_linf_mean=float(linf.mean()),
        perturbation_linf_max=float(linf.max()),
        perturbation_l2_mean=float(l2.mean()),
        perturbation_l2_max=float(l2.max()),
        queries_used=int(queries_used),
        seconds=float(seconds),
        unbounded=unbounded,
        perturbation_l2_median=float(np.median(l2[fooled])) if fooled.any() else None,
        perturbation_linf_median=float(np.median(linf[fooled])) if fooled.any() else None,
        eps=eps,
        eps_norm=eps_norm,
        robust_accuracy_at_eps=at_eps,
    )
