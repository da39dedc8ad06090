"""Noisy aggregation of teacher votes: LNMax, GNMax and Confident-GNMax.

Every aggregator turns a batch of vote histograms ``(n, n_classes)`` into labels ``(n,)``
(``-1`` where it declines to answer), vectorised over the queries, and knows how to charge a
:class:`~bastion.defenses.pate.privacy.PrivacyAccountant` for what it released.

Interactive-GNMax (Papernot et al. 2018, Algorithm 2, which also consults the student's own
predictions) is not implemented.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from bastion.defenses.pate.privacy import check_votes_batch
from bastion.defenses.pate.smooth_sensitivity import SmoothSensitivityAnalysis, smooth_sensitivity_analysis
from bastion.exceptions import InputTypeError, ValidationError
from bastion.validation import check_choice, check_scalar

UNANSWERED = -1


def check_votes(votes: Any, name: str = "votes") -> np.ndarray:
    """Check vote histograms: ``(n, n_classes)``, finite, non-negative; return float64.

    Raises:
        InputTypeError: not a numeric array.
        ValidationError: wrong shape, fewer than 2 classes, or negative / non-finite counts.
    """
    array, batched = check_votes_batch(votes, name)
    if not batched:
        raise ValidationError(f"`{name}` must have shape (n, n_classes) with n_classes >= 2, got {np.shape(votes)}")
    if array.size and array.min() < 0:
        raise ValidationError(f"`{name}` must hold finite, non-negative vote counts")
    return array


def _noisy_argmax(votes: np.ndarray, noise: np.ndarray) -> np.ndarray:
    return np.argmax(votes + noise, axis=1).astype(np.int64)


class Aggregator(ABC):
    """A noisy-max aggregation mechanism over teacher votes.

    Subclasses implement :meth:`aggregate` (release labels) and :meth:`account` (charge the
    privacy cost of that release to an accountant).
    """

    name: str

    @abstractmethod
    def aggregate(self, votes: np.ndarray, *, generator: np.random.Generator) -> np.ndarray:
        """Noisy labels ``(n,)`` int64 for vote histograms ``(n, n_classes)``; ``-1`` = unanswered."""

    @abstractmethod
    def account(
        self,
        accountant: Any,
        votes: np.ndarray,
        labels: np.ndarray,
        *,
        data_independent: bool = False,
        expected: bool = False,
    ) -> None:
        """Charge ``accountant`` for releasing ``labels`` computed from ``votes``.

        Args:
            accountant: a :class:`~bastion.defenses.pate.privacy.PrivacyAccountant`.
            votes: the vote histograms ``(n, n_classes)`` of every query asked.
            labels: what :meth:`aggregate` released for them (``-1`` = declined).
            data_independent: charge the data-independent bound instead of the
                data-dependent one (the baseline the papers compare against).
            expected: charge a step that runs only on answered queries (Confident-GNMax's
                GNMax step) in expectation, ``Pr[answered]`` times its cost, as the authors
                accumulate it, instead of in full on the queries ``labels`` answered.
                Aggregators that answer every query ignore it.
        """

    def smooth_sensitivity(
        self, votes: np.ndarray, *, delta: float, num_teachers: int
    ) -> SmoothSensitivityAnalysis | None:
        """The smooth-sensitivity analysis that lets the data-dependent epsilon be published.

        ``None`` where the papers give no such analysis (LNMax).

        Raises:
            ValidationError: the analysis is unsound for these parameters (conditions C5-C6 of
                Papernot et al. 2018, App. B.4.2).
        """
        return None

    def _check(self, votes: Any, generator: Any) -> np.ndarray:
        if not isinstance(generator, np.random.Generator):
            raise InputTypeError(
                f"`generator` must be a numpy Generator (np.random.default_rng(seed)), got {type(generator).__name__}"
            )
        return check_votes(votes)


class LNMax(Aggregator):
    """Laplacian noisy max: ``argmax_j n_j(x) + Lap(1 / gamma)``.

    Papernot, Abadi, Erlingsson, Goodfellow, Talwar 2017, "Semi-supervised Knowledge Transfer
    for Deep Learning from Private Training Data" (ICLR), Sec. 2.1, Eq. 1; privacy by the
    moments accountant with the data-dependent bound of Theorem 3 (Sec. 3). Each answer is
    ``2 * gamma``-DP on its own (one teacher's vote changes two counts by one).

    Args:
        gamma: inverse scale of the Laplace noise (the paper's ``gamma``; MNIST used 0.05).

    Raises:
        ValidationError: ``gamma <= 0``.
    """

    name = "lnmax"

    def __init__(self, gamma: float) -> None:
        self.gamma = check_scalar(gamma, "gamma", low=0, include_low=False)

    def aggregate(self, votes: np.ndarray, *, generator: np.random.Generator) -> np.ndarray:
        """Noisy-max labels, one per query (LNMax always answers)."""
        votes = self._check(votes, generator)
        return _noisy_argmax(votes, generator.laplace(scale=1.0 / self.gamma, size=votes.shape))

    def account(
        self,
        accountant: Any,
        votes: np.ndarray,
        labels: np.ndarray,
        *,
        data_independent: bool = False,
        expected: bool = False,
    ) -> None:
        """Charge every query with the LNMax moments bound (data-dependent by default)."""
        accountant.add_lnmax(votes, self.gamma, data_independent=data_independent)

    def __repr__(self) -> str:
        return f"LNMax(gamma={self.gamma:g})"


class GNMax(Aggregator):
    """Gaussian noisy max: ``argmax_j n_j(x) + N(0, sigma^2)``.

    Papernot, Song, Mironov, Raghunathan, Talwar, Erlingsson 2018, "Scalable Private Learning
    with PATE" (ICLR), Sec. 4.1; data-independent RDP ``alpha / sigma^2`` (Prop. 8) and the
    data-dependent bound of Theorem 6.

    Args:
        sigma: standard deviation of the Gaussian noise, in votes.

    Raises:
        ValidationError: ``sigma <= 0``.
    """

    name = "gnmax"

    def __init__(self, sigma: float) -> None:
        self.sigma = check_scalar(sigma, "sigma", low=0, include_low=False)

    def aggregate(self, votes: np.ndarray, *, generator: np.random.Generator) -> np.ndarray:
        """Noisy-max labels, one per query (GNMax always answers)."""
        votes = self._check(votes, generator)
        return _noisy_argmax(votes, generator.normal(scale=self.sigma, size=votes.shape))

    def account(
        self,
        accountant: Any,
        votes: np.ndarray,
        labels: np.ndarray,
        *,
        data_independent: bool = False,
        expected: bool = False,
    ) -> None:
        """Charge every query with GNMax's RDP (data-dependent by default)."""
        accountant.add_gnmax(votes, self.sigma, data_independent=data_independent)

    def smooth_sensitivity(self, votes: np.ndarray, *, delta: float, num_teachers: int) -> SmoothSensitivityAnalysis:
        """GNMax's smooth-sensitivity analysis (Papernot et al. 2018, Sec. 4.3, App. C)."""
        return smooth_sensitivity_analysis(votes, sigma=self.sigma, delta=delta, num_teachers=num_teachers)

    def __repr__(self) -> str:
        return f"GNMax(sigma={self.sigma:g})"


class ConfidentGNMax(Aggregator):
    """Confident-GNMax: answer only when the teachers agree strongly enough.

    Papernot et al. 2018, "Scalable Private Learning with PATE" (ICLR), Algorithm 1: if
    ``max_j n_j(x) + N(0, sigma_threshold^2) >= threshold`` the query is answered with
    GNMax at ``sigma``, otherwise it is declined (label ``-1``). The threshold check is charged
    on every query; the GNMax answer either on the answered ones or, as the authors accumulate
    it, in expectation (``Pr[answered]`` times its cost, Sec. 4.2 and ``rdp_cumulative.py``).
    The paper's MNIST setting: 250 teachers, ``threshold=200, sigma_threshold=150, sigma=40``.

    Args:
        threshold: the vote count the noisy maximum must reach (``T``).
        sigma_threshold: noise of the threshold check (``sigma_1``).
        sigma: noise of the answer (``sigma_2``).

    Raises:
        ValidationError: ``threshold < 0`` or a sigma ``<= 0``.
    """

    name = "confident-gnmax"

    def __init__(self, *, threshold: float, sigma_threshold: float, sigma: float) -> None:
        self.threshold = check_scalar(threshold, "threshold", low=0)
        self.sigma_threshold = check_scalar(sigma_threshold, "sigma_threshold", low=0, include_low=False)
        self.sigma = check_scalar(sigma, "sigma", low=0, include_low=False)

    def aggregate(self, votes: np.ndarray, *, generator: np.random.Generator) -> np.ndarray:
        """Labels for the queries that pass the noisy threshold check, ``-1`` elsewhere."""
        votes = self._check(votes, generator)
        # Both noises are drawn for every query so the draws do not depend on the data.
        check_noise = generator.normal(scale=self.sigma_threshold, size=len(votes))
        answer_noise = generator.normal(scale=self.sigma, size=votes.shape)
        answered = votes.max(axis=1) + check_noise >= self.threshold
        labels = _noisy_argmax(votes, answer_noise)
        labels[~answered] = UNANSWERED
        return labels

    def account(
        self,
        accountant: Any,
        votes: np.ndarray,
        labels: np.ndarray,
        *,
        data_independent: bool = False,
        expected: bool = False,
    ) -> None:
        """Charge the threshold check on every query and GNMax on the answered ones.

        With ``expected`` the GNMax step is charged ``Pr[answered]`` times its cost on every
        query (the authors' accumulation, the cost smooth sensitivity releases).
        """
        accountant.add_confident_gnmax(
            votes,
            threshold=self.threshold,
            sigma_threshold=self.sigma_threshold,
            sigma=self.sigma,
            answered=None if expected else np.asarray(labels) != UNANSWERED,
            data_independent=data_independent,
        )

    def smooth_sensitivity(self, votes: np.ndarray, *, delta: float, num_teachers: int) -> SmoothSensitivityAnalysis:
        """Confident-GNMax's smooth-sensitivity analysis (Papernot et al. 2018, Sec. 4.3, App. C)."""
        return smooth_sensitivity_analysis(
            votes,
            sigma=self.sigma,
            delta=delta,
            num_teachers=num_teachers,
            threshold=self.threshold,
            sigma_threshold=self.sigma_threshold,
        )

    def __repr__(self) -> str:
        return (
            f"ConfidentGNMax(threshold={self.threshold:g}, sigma_threshold={self.sigma_threshold:g}, "
            f"sigma={self.sigma:g})"
        )


AGGREGATORS = ("lnmax", "gnmax", "confident-gnmax")


def make_aggregator(
    name: str,
    *,
    gamma: float = 0.05,
    sigma: float = 40.0,
    threshold: float = 200.0,
    sigma_threshold: float = 150.0,
) -> Aggregator:
    """Build an aggregator by name (the CLI's ``--aggregator``); unused arguments are ignored.

    Raises:
        ValidationError: unknown name or bad parameters.
    """
    check_choice(name, "aggregator", AGGREGATORS)
    if name == "lnmax":
        return LNMax(gamma)
    if name == "gnmax":
        return GNMax(sigma)
    return ConfidentGNMax(threshold=threshold, sigma_threshold=sigma_threshold, sigma=sigma)


__all__ = [
    "AGGREGATORS",
    "UNANSWERED",
    "Aggregator",
    "ConfidentGNMax",
    "GNMax",
    "LNMax",
    "check_votes",
    "make_aggregator",
]
