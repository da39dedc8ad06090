"""The offline Likelihood Ratio Attack (LiRA) of Carlini et al. (2022)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm

from bastion.attacks.inference.base import MembershipAttack, log_probabilities, logit_confidence
from bastion.attacks.inference.reference import check_train_fn, train_reference_models
from bastion.models.base import Model
from bastion.validation import check_scalar, check_seed

# Floor of the per-record standard deviation: records whose reference confidences all agree
# would otherwise divide by zero.
_MIN_STD = 1e-6


class LiRA(MembershipAttack):
    """Offline LiRA: is the target's confidence on a record too high for a model that never saw it?

    Carlini et al. 2022, "Membership Inference Attacks From First Principles" (S&P),
    Sec. IV: Algorithm 1 and the offline variant described beside it. The
    attacker trains ``n_reference`` reference models on random subsets of its own pool,
    none of which contains the records it will be asked about, so each record is "out" of
    every reference model. For a record ``(x, y)`` it measures the logit-scaled confidence
    ``phi = log(p_y / (1 - p_y))`` under each reference model, fits a Gaussian
    ``N(mu_out, sigma_out^2)`` to those values (the scaling makes them approximately
    Gaussian), and runs a one-sided test of the target's ``phi``: the score is
    ``-log Pr[Z >= phi_target]``, ``Z ~ N(mu_out, sigma_out^2)``, i.e. minus the log p-value
    of the hypothesis "non-member" (higher = member; ``exp(-score)`` is the p-value).
    Per-record calibration is what lets LiRA reach high TPR at low FPR: a record that every
    model finds easy no longer looks like a member just because its loss is low.

    With few reference models a per-record variance is noisy; ``global_variance=True`` (the
    paper's advice below 64 models) uses one variance pooled over the records, the
    within-record spread ``sum((phi - mu_out(x))^2) / (n (n_reference - 1))``, keeping the
    per-record means. Query augmentations (mirrored or shifted inputs) are not used.

    Threat model: black-box access to the target's class probabilities (logits when it is a
    white-box TorchModel, for precision); a pool of records from the target's distribution,
    disjoint from the target's training set; a ``train_fn(x, y, seed) -> Model`` that trains
    models as the target was trained (see :func:`~bastion.attacks.inference.train_like`).
    Scoring queries the target and every reference model once per record.

    Args:
        train_fn: trains one reference model: ``train_fn(x, y, seed) -> Model``.
        n_reference: how many reference models to train.
        reference_size: records per reference model; ``None`` takes half the pool (the paper
            trains on random halves). Match the target's training-set size when known.
        global_variance: pool the variance over records (``True``) or estimate it per record.
        seed: seeds the subsets and the reference models' training.
        progress: show a progress bar while training.

    Attributes:
        reference_models_: the trained reference models (after ``fit``).

    Example:
        >>> attack = LiRA(train_fn=train_like(target, epochs=100), n_reference=16)
        >>> attack.fit(target, x_pool, y_pool).score(target, x, y)
    """

    needs_fit = True

    def __init__(
        self,
        *,
        train_fn: Any,
        n_reference: int = 8,
        reference_size: int | None = None,
        global_variance: bool = True,
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self.train_fn = check_train_fn(train_fn)
        self.n_reference = check_scalar(n_reference, "n_reference", kind=int, low=2)
        self.reference_size = (
            None if reference_size is None else check_scalar(reference_size, "reference_size", kind=int, low=2)
        )
        self.global_variance = bool(global_variance)
        self.seed = check_seed(seed)
        self.progress = bool(progress)

    def _fit(self, model: Model, x: np.ndarray, y: np.ndarray) -> None:
        size = self.reference_size if self.reference_size is not None else len(x) // 2
        references = train_reference_models(
            self.train_fn,
            x,
            y,
            n_models=self.n_reference,
            size=size,
            target=model,
            seed=self.seed,
            progress=self.progress,
            who="LiRA reference models",
        )
        self.reference_models_ = [reference.model for reference in references]

    def _score(self, model: Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        phi_target = logit_confidence(log_probabilities(model, x), y)
        phi_out = np.stack([logit_confidence(log_probabilities(ref, x), y) for ref in self.reference_models_])
        mean_out = phi_out.mean(axis=0)
        if self.global_variance:
            pooled = np.sum((phi_out - mean_out) ** 2) / (phi_out.size - phi_out.shape[1])
            std_out = np.full_like(mean_out, np.sqrt(pooled))
        else:
            std_out = phi_out.std(axis=0, ddof=1)
        return -norm.logsf(phi_target, loc=mean_out, scale=np.maximum(std_out, _MIN_STD))
