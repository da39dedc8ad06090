"""Scoring one evasion attack against one model."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.attacks.norms import sample_norms
from bastion.exceptions import InputTypeError
from bastion.mixins import ResultMixin
from bastion.models.base import Model
from bastion.validation import check_labels


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

    def summary(self) -> str:
        """One sentence in plain words: how often the attack fooled the model, and the verdict.

        The verdict is "vulnerable" from a 20% success rate, "partly robust" from 5%, else
        "robust to this attack".
        """
        name = self.attack.split("(", 1)[0]
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


def evaluate(model: Model, attack: Any, x: np.ndarray, y: np.ndarray, *, target: Any = None) -> EvasionResult:
    """Run ``attack`` on ``(x, y)`` and measure accuracy, success, perturbation and cost.

    Args:
        model: a bastion Model.
        attack: an evasion attack (anything with ``generate``).
        x: clean inputs ``(n, *model.input_shape)``.
        y: true labels ``(n,)``.
        target: ``None`` (untargeted) or the target class(es), passed to ``generate``.

    Returns:
        An :class:`EvasionResult`. Queries count those of ``generate`` only, not the two
        accuracy measurements.
    """
    if not hasattr(attack, "generate"):
        raise InputTypeError(f"`attack` must be an evasion attack with generate(), got {type(attack).__name__}")
    x = model.check_x(x)
    y = check_labels(y, "y", n_samples=len(x), n_classes=model.n_classes)
    clean_correct = model.predict(x) == y
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
    )
