"""The Likelihood Ratio Attack (LiRA) of Carlini et al. (2022), offline and online."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm

from bastion.attacks.inference.base import MembershipAttack, log_probabilities, logit_confidence
from bastion.attacks.inference.reference import (
    check_train_fn,
    train_balanced_reference_models,
    train_reference_models,
)
from bastion.backends import Backend, get_backend
from bastion.exceptions import ValidationError
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

    Online LiRA (``online=True``, Sec. IV.B, the paper's headline numbers): ``fit``'s pool
    holds the candidate records themselves (the attacker does not know which are members),
    and every record trains exactly ``n_reference // 2`` reference models, drawn at random.
    Each record thus gets in-models and out-models; ``score`` fits ``N(mu_in, sigma_in^2)``
    and ``N(mu_out, sigma_out^2)`` to its ``phi`` under each and returns the log likelihood
    ratio ``log p_in(phi_target) - log p_out(phi_target)`` (higher = member).
    ``global_variance=True`` is the paper's fixed-variance variant: one variance for the
    in-models and one for the out-models, pooled over the records. Reference models train
    through ``backend`` (see :mod:`bastion.backends`); model ``k``'s seed depends only on
    ``seed`` and ``k``, so every backend trains the same models and gives the same scores.
    Online ``score`` accepts only records of the fit pool (it needs their in-models).

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
        global_variance: pool the variance over records (``True``, the paper's fixed
            variance) or estimate it per record.
        online: train in- and out-models over the candidate records (Sec. IV.B) instead of
            out-models only (the default, offline).
        backend: where online reference models train: ``"serial"`` (this process, the
            default), ``"local"`` (a process pool), ``"ray"`` or a
            :class:`~bastion.backends.Backend`; process and Ray backends need a picklable
            ``train_fn`` (:func:`~bastion.attacks.inference.train_like` returns one).
        seed: seeds the subsets and the reference models' training.
        progress: show a progress bar while training.

    Raises:
        ValidationError: ``n_reference < 2``; ``reference_size`` with ``online=True`` (online
            models train on half the pool); ``online=True`` with ``global_variance=False``
            and fewer than 4 reference models (a per-record variance needs 2 in-models);
            ``backend`` with the offline variant; an unknown backend name.
        InputTypeError: a non-callable ``train_fn`` or a bad backend object.

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
        online: bool = False,
        backend: str | Backend | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self.train_fn = check_train_fn(train_fn)
        self.n_reference = check_scalar(n_reference, "n_reference", kind=int, low=2)
        self.reference_size = (
            None if reference_size is None else check_scalar(reference_size, "reference_size", kind=int, low=2)
        )
        self.global_variance = bool(global_variance)
        self.online = bool(online)
        if self.online and self.reference_size is not None:
            raise ValidationError(
                f"`reference_size` must be None with online=True (each online reference model trains on "
                f"half the pool), got {self.reference_size}"
            )
        if self.online and not self.global_variance and self.n_reference < 4:
            raise ValidationError(
                f"`n_reference` must be >= 4 for online LiRA with global_variance=False (a per-record "
                f"variance needs 2 in-models per record), got {self.n_reference}"
            )
        if not self.online and backend is not None:
            raise ValidationError(f"`backend` applies to online=True only, got backend={backend!r} with online=False")
        self.backend = get_backend("serial" if backend is None else backend)
        self.seed = check_seed(seed)
        self.progress = bool(progress)

    def _fit(self, model: Model, x: np.ndarray, y: np.ndarray) -> None:
        if self.online:
            references = train_balanced_reference_models(
                self.train_fn,
                x,
                y,
                n_models=self.n_reference,
                target=model,
                seed=self.seed,
                backend=self.backend,
                progress=self.progress,
                who="LiRA in/out reference models",
            )
            self.reference_models_ = [reference.model for reference in references]
            self.reference_members_ = np.stack([reference.members for reference in references])
            self.pool_ = np.ascontiguousarray(x, dtype=np.float64).reshape(len(x), -1)
            return
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
        phi_ref = np.stack([logit_confidence(log_probabilities(ref, x), y) for ref in self.reference_models_])
        if self.online:
            return self._likelihood_ratio(phi_target, phi_ref, self.reference_members_[:, self._pool_rows(x)])
        phi_out = phi_ref
        mean_out = phi_out.mean(axis=0)
        if self.global_variance:
            pooled = np.sum((phi_out - mean_out) ** 2) / (phi_out.size - phi_out.shape[1])
            std_out = np.full_like(mean_out, np.sqrt(pooled))
        else:
            std_out = phi_out.std(axis=0, ddof=1)
        return -norm.logsf(phi_target, loc=mean_out, scale=np.maximum(std_out, _MIN_STD))

    def _pool_rows(self, x: np.ndarray) -> np.ndarray:
        """Index into the fit pool of each record of ``x`` (exact match, vectorised)."""
        rows = np.ascontiguousarray(x, dtype=np.float64).reshape(len(x), -1)
        void = np.dtype((np.void, rows.shape[1] * rows.itemsize))
        pool = self.pool_.view(void).ravel()
        order = np.argsort(pool, kind="stable")
        queries = rows.view(void).ravel()
        found = np.minimum(np.searchsorted(pool[order], queries), len(pool) - 1)
        index = order[found]
        missing = pool[index] != queries
        if missing.any():
            raise ValidationError(
                f"online LiRA scores records of its fit pool only (it needs their in-models), got "
                f"{int(missing.sum())} of {len(x)} record(s) not in it; pass the candidate records to fit"
            )
        return index

    def _likelihood_ratio(self, phi_target: np.ndarray, phi: np.ndarray, inside: np.ndarray) -> np.ndarray:
        """``log N(phi_target; mu_in, s_in) - log N(phi_target; mu_out, s_out)`` per record.

        ``phi`` and ``inside`` are ``(n_reference, n)``: each model's confidence on each record
        and whether the record trained that model.
        """
        stats = []
        for mask in (inside, ~inside):
            count = mask.sum(axis=0)
            mean = np.where(mask, phi, 0.0).sum(axis=0) / count
            squares = np.where(mask, (phi - mean) ** 2, 0.0)
            if self.global_variance:
                std = np.full_like(mean, np.sqrt(squares.sum() / (count.sum() - len(count))))
            else:
                std = np.sqrt(squares.sum(axis=0) / (count - 1))
            stats.append((mean, np.maximum(std, _MIN_STD)))
        (mean_in, std_in), (mean_out, std_out) = stats
        return norm.logpdf(phi_target, mean_in, std_in) - norm.logpdf(phi_target, mean_out, std_out)
