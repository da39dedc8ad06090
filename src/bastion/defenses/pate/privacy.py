"""Privacy accounting of PATE: data-dependent Renyi DP of the noisy-max aggregators.

Every quantity is in nats (natural logs). Orders are Renyi orders ``alpha > 1`` given as numpy
arrays; RDP curves are arrays over those orders. The functions are pure and keyword-only; the
:class:`PrivacyAccountant` only sums their curves.

What each function bounds (Papernot et al. 2018, "Scalable Private Learning with PATE", ICLR,
and its appendix, arXiv:1802.08908):

- :func:`gnmax_rdp_data_independent` -- GNMax ``argmax_j n_j + N(0, sigma^2)`` is
  ``(alpha, alpha / sigma^2)``-RDP for every neighbouring pair (Prop. 8: the vote histogram has
  L2 sensitivity ``sqrt(2)``).
- :func:`gnmax_log_q` -- ``log q``, ``q >= Pr[GNMax(n) != argmax_j n_j]``, by the union bound
  of Prop. 7: ``q = sum_{j != i*} Pr[N(0, 2 sigma^2) >= n_{i*} - n_j]``, capped at
  ``1 - 1/k``.
- :func:`gnmax_rdp_data_dependent` -- Theorem 6 with ``mu_2 = sigma sqrt(log 1/q)``,
  ``mu_1 = mu_2 + 1`` (Prop. 10), ``eps_i = mu_i / sigma^2``::

      A = (1 - q) / (1 - (q e^{eps_2})^{(mu_2 - 1) / mu_2}),   B = e^{eps_1} / q^{1 / (mu_1 - 1)},
      rdp(alpha) = log((1 - q) A^{alpha - 1} + q B^{alpha - 1}) / (alpha - 1),

  used where its conditions hold (``alpha < mu_1``, ``mu_2 > 1``, ``q e^{eps_2} < 1`` and
  ``q <= e^{(mu_2 - 1) eps_2} / (mu_1 / (mu_1 - 1) * mu_2 / (mu_2 - 1))^{mu_2}``) and then as
  ``min`` with the data-independent bound, which it falls back to elsewhere.
- :func:`threshold_log_pr_answered` and :func:`threshold_rdp` -- Confident-GNMax's check
  ``max_j n_j + N(0, sigma_1^2) >= T`` (Algorithm 1). Its input has sensitivity 1, so it is a
  GNMax-like release at ``sqrt(2) sigma_1``; Theorem 6 applies with
  ``q = min(Pr[answered], Pr[not answered])`` (Sec. 4.2, App. B).
- :func:`lnmax_log_q`, :func:`lnmax_rdp`, :func:`lnmax_log_moments` and :func:`lnmax_epsilon`
  -- LNMax ``argmax_j n_j + Lap(1 / gamma)`` (Papernot et al. 2017, "Semi-supervised Knowledge
  Transfer for Deep Learning from Private Training Data", ICLR): ``q`` from the vote gaps
  (Sec. 3, ``q = sum_j (2 + gamma gap_j) / (4 exp(gamma gap_j))``), and the log-moment bound of
  Theorem 3 (``eps = 2 gamma``)::

      alpha(l) <= min(eps^2 l (l + 1) / 2, eps l, log((1 - q) ((1 - q) / (1 - e^eps q))^l + q e^{eps l}))

  where the last term needs ``q < (e^{2 gamma} - 1) / (e^{4 gamma} - 1) = 1 / (e^eps + 1)``;
  a log moment ``alpha(l)`` is ``l`` times the RDP at order ``l + 1``.
- :func:`epsilon_from_rdp` -- (alpha, r)-RDP implies ``(r + log(1/delta) / (alpha - 1),
  delta)``-DP (Mironov 2017, Prop. 3), minimised over the orders; or Balle et al. 2020,
  "Hypothesis Testing Interpretations and Renyi Differential Privacy", Thm. 21:
  ``r + log((alpha - 1) / alpha) - (log delta + log alpha) / (alpha - 1)``.

Smooth sensitivity of the data-dependent cost, so that epsilon itself can be published, lives
in :mod:`bastion.defenses.pate.smooth_sensitivity`.

The numbers follow the authors' analysis code (tensorflow/privacy, ``research/pate_2018/core.py``
and ``research/pate_2017/analysis.py``) wherever the papers leave a choice: the order grid, the
rounding of the maximum vote in the threshold step, and the accumulation of Confident-GNMax's
expected cost (threshold cost plus ``Pr[answered]`` times the GNMax cost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import log_ndtr

from bastion.exceptions import InputTypeError, ValidationError
from bastion.mixins import ResultMixin
from bastion.validation import check_choice, check_scalar

#: The authors' order grid: 2, 2.5, ..., 100.5 then 100 log-spaced orders from 100 to 500.
DEFAULT_ORDERS = np.concatenate((np.arange(2, 100 + 1, 0.5), np.logspace(np.log10(100), np.log10(500), num=100)))

#: The moments ``1 .. 8`` of the 2017 moments accountant (``--moments`` in its analysis script).
DEFAULT_MAX_MOMENT = 8

CONVERSIONS = ("classic", "balle2020")


# --------------------------------------------------------------------------- validation


def check_orders(orders: Any, name: str = "orders") -> np.ndarray:
    """Check Renyi orders: a non-empty 1-D array (a scalar counts as one order), all finite ``> 1``.

    Raises:
        InputTypeError: not numeric.
        ValidationError: empty, not 1-D, non-finite, or an order ``<= 1``.
    """
    array = _numeric(orders, name)
    array = np.atleast_1d(array).astype(np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValidationError(f"`{name}` must be a non-empty 1-D array of Renyi orders, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValidationError(f"`{name}` must be finite, got {array[~np.isfinite(array)][0]!r}")
    if np.any(array <= 1):
        raise ValidationError(f"`{name}` must all be > 1 (RDP is not defined at alpha <= 1), got {array.min():g}")
    return array


def check_votes_batch(votes: Any, name: str = "votes", *, min_classes: int = 2) -> tuple[np.ndarray, bool]:
    """Check vote histograms ``(k,)`` or ``(n, k)``, ``k >= min_classes``; return ``((n, k) float64, batched)``.

    Votes may be negative (Interactive GNMax subtracts a baseline); only their differences matter.

    Raises:
        InputTypeError: not numeric.
        ValidationError: wrong shape, fewer than two classes, or NaN/Inf.
    """
    array = _numeric(votes, name).astype(np.float64)
    batched = array.ndim == 2
    if array.ndim not in (1, 2) or array.shape[-1] < min_classes:
        raise ValidationError(
            f"`{name}` must be a vote histogram (n_classes,) or a batch (n, n_classes) with "
            f"n_classes >= {min_classes}, got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValidationError(f"`{name}` must be finite vote counts, got NaN or infinite entries")
    return np.atleast_2d(array), batched


def check_vote_histogram(votes: Any, name: str = "votes") -> np.ndarray:
    """Check one vote histogram ``(k,)``, ``k >= 2``; return it as ``(k,)`` float64.

    Raises:
        InputTypeError: not numeric.
        ValidationError: a batch, fewer than two classes, or NaN/Inf.
    """
    array, batched = check_votes_batch(votes, name)
    if batched:
        raise ValidationError(f"`{name}` must be one histogram (n_classes,), got shape {array.shape}")
    return array[0]


def _numeric(value: Any, name: str) -> np.ndarray:
    if value is None or isinstance(value, (str, bytes)):
        raise InputTypeError(f"`{name}` must be a numeric array, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise InputTypeError(f"`{name}` must be a numeric array: {error}") from error
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise InputTypeError(f"`{name}` must be a real numeric array, got dtype {array.dtype}")
    return array


def _check_sigma(sigma: Any, name: str = "sigma") -> float:
    return check_scalar(sigma, name, low=0, include_low=False)


def _check_delta(delta: Any) -> float:
    return check_scalar(delta, "delta", low=0, high=1, include_low=False, include_high=False)


def _check_log_probability(value: Any, name: str) -> tuple[np.ndarray, bool]:
    array = _numeric(value, name).astype(np.float64)
    if array.ndim > 1:
        raise ValidationError(f"`{name}` must be a scalar or a 1-D array, got shape {array.shape}")
    if np.any(np.isnan(array)) or np.any(array > 0):
        bad = array[np.isnan(array) | (array > 0)][0]
        raise ValidationError(f"`{name}` must be a log-probability in [-inf, 0], got {bad!r}")
    return np.atleast_1d(array), array.ndim == 1


def _shape_output(rdp: np.ndarray, batched: bool) -> np.ndarray:
    return rdp if batched else rdp[0]


# --------------------------------------------------------------------------- numerics


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """``log(1 - exp(x))`` for ``x <= 0``, stable at both ends (``-inf`` at ``x = 0``)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(x < -1, np.log1p(-np.exp(np.minimum(x, -1))), np.log(-np.expm1(np.minimum(x, 0))))


def _logsumexp_rows(x: np.ndarray) -> np.ndarray:
    """``log(sum(exp(x)))`` along the last axis; entries at ``-inf`` contribute nothing."""
    top = np.max(x, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        shifted = np.exp(x - top)
    shifted = np.where(np.isneginf(x), 0.0, shifted)
    return top[..., 0] + np.log(np.sum(shifted, axis=-1))


# --------------------------------------------------------------------------- GNMax


def gnmax_rdp_data_independent(*, sigma: float, orders: Any) -> np.ndarray:
    """Data-independent RDP of GNMax: ``alpha / sigma^2`` (Papernot et al. 2018, Prop. 8).

    Args:
        sigma: standard deviation of the Gaussian noise added to every vote count.
        orders: Renyi orders ``> 1``, shape ``(n_orders,)``.

    Returns:
        RDP in nats, shape ``(n_orders,)``.

    Raises:
        ValidationError: ``sigma <= 0`` or an order ``<= 1``.
    """
    sigma = _check_sigma(sigma)
    orders = check_orders(orders)
    return orders / sigma**2


def gnmax_log_q(votes: Any, *, sigma: float) -> np.ndarray | float:
    """Log of the bound on ``Pr[GNMax(votes) != argmax votes]`` (Papernot et al. 2018, Prop. 7).

    ``q = sum_{j != i*} Pr[N(0, 2 sigma^2) >= n_{i*} - n_j]`` (a union bound over the classes
    that could overtake the plurality ``i*``), capped at ``1 - 1/k``: no answer is worse than a
    uniform guess.

    Args:
        votes: vote histogram ``(k,)`` or a batch ``(n, k)``.
        sigma: standard deviation of GNMax's Gaussian noise.

    Returns:
        ``log q`` in nats: a float for one histogram, ``(n,)`` for a batch.

    Raises:
        ValidationError: ``sigma <= 0``, or bad votes.
    """
    sigma = _check_sigma(sigma)
    array, batched = check_votes_batch(votes)
    log_q = _gnmax_log_q(array, sigma)
    return log_q if batched else float(log_q[0])


def _gnmax_log_q(votes: np.ndarray, sigma: float) -> np.ndarray:
    n_classes = votes.shape[1]
    winner = np.argmax(votes, axis=1)
    gaps = votes[np.arange(len(votes)), winner][:, None] - votes
    # The tail of N(0, 2 sigma^2) beyond each gap; the winner itself is left out of the sum.
    log_tails = log_ndtr(-(gaps / math.sqrt(2 * sigma**2)))
    log_tails[np.arange(len(votes)), winner] = -np.inf
    return np.minimum(_logsumexp_rows(log_tails), math.log(1 - 1 / n_classes))


def gnmax_rdp_data_dependent(*, log_q: Any, sigma: float, orders: Any) -> np.ndarray:
    """Data-dependent RDP of GNMax given ``log q`` (Papernot et al. 2018, Theorem 6).

    With ``mu_2 = sigma sqrt(-log q)`` and ``mu_1 = mu_2 + 1`` (Prop. 10), GNMax is
    ``(alpha, log((1 - q) A^{alpha-1} + q B^{alpha-1}) / (alpha - 1))``-RDP at the data where
    ``q`` bounds the chance of a non-plurality answer. The bound is used only where Theorem 6's
    conditions hold (``alpha < mu_1``, ``mu_2 > 1``, ``-log q > mu_2 / sigma^2`` and
    Lemma 9's upper bound on ``q``) and never above the data-independent ``alpha / sigma^2``,
    which it falls back to elsewhere. ``log q = -inf`` (a fixed answer) costs nothing.

    Args:
        log_q: ``log q`` (from :func:`gnmax_log_q`), a scalar or ``(n,)``; in ``[-inf, 0]``.
        sigma: standard deviation of GNMax's Gaussian noise.
        orders: Renyi orders ``> 1``, shape ``(n_orders,)``.

    Returns:
        RDP in nats: ``(n_orders,)`` for a scalar ``log_q``, ``(n, n_orders)`` for ``(n,)``.

    Raises:
        ValidationError: ``log_q > 0`` or NaN, ``sigma <= 0``, or an order ``<= 1``.
    """
    log_q, batched = _check_log_probability(log_q, "log_q")
    sigma = _check_sigma(sigma)
    orders = check_orders(orders)
    return _shape_output(_rdp_gaussian(log_q, sigma, orders), batched)


def gnmax_rdp_bound(*, log_q: Any, sigma: float, orders: Any) -> np.ndarray:
    """Theorem 6's expression (Papernot et al. 2018), without its conditions.

    ``log((1 - q) A^{alpha-1} + q B^{alpha-1}) / (alpha - 1)`` with ``mu_2 = sigma sqrt(-log q)``,
    ``mu_1 = mu_2 + 1`` (Prop. 10); 0 at ``log q = -inf``. :func:`gnmax_rdp_data_dependent`
    applies it where the theorem's conditions hold; the smooth-sensitivity analysis uses it
    below ``q0`` (App. C), where they do.

    Args:
        log_q: ``log q``, a scalar or ``(n,)``, in ``[-inf, 0]``.
        sigma: standard deviation of GNMax's Gaussian noise.
        orders: Renyi orders ``> 1``, shape ``(n_orders,)``.

    Returns:
        The bound in nats, ``(n_orders,)`` or ``(n, n_orders)``.

    Raises:
        ValidationError: ``log_q > 0`` or NaN, ``sigma <= 0``, or an order ``<= 1``.
    """
    log_q, batched = _check_log_probability(log_q, "log_q")
    return _shape_output(_theorem6(log_q, _check_sigma(sigma), check_orders(orders)), batched)


def _theorem6(log_q: np.ndarray, sigma: float, orders: np.ndarray) -> np.ndarray:
    """Theorem 6's expression for each ``log_q`` ``(n,)`` at every order ``(m,)``: ``(n, m)``."""
    variance = sigma**2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mu_2 = np.sqrt(variance * -log_q)
        mu_1 = mu_2 + 1
        eps_1 = mu_1 / variance
        eps_2 = mu_2 / variance
        log_1mq = _log1mexp(log_q)[:, None]
        lam = orders - 1
        log_a = lam * (log_1mq - _log1mexp((log_q + eps_2) * (1 - 1 / mu_2))[:, None])
        log_b = lam * (eps_1 - log_q / (mu_1 - 1))[:, None]
        bound = np.logaddexp(log_1mq + log_a, log_q[:, None] + log_b) / lam
    # The bound tends to 0 as q -> 0: a fixed answer is 0-RDP.
    return np.where(np.isneginf(log_q)[:, None], 0.0, bound)


def _rdp_gaussian(log_q: np.ndarray, sigma: float, orders: np.ndarray) -> np.ndarray:
    """Theorem 6 where its conditions hold, the data-independent bound elsewhere: ``(n, m)``."""
    variance = sigma**2
    independent = np.broadcast_to(orders / variance, (len(log_q), len(orders)))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mu_2 = np.sqrt(variance * -log_q)
        mu_1 = mu_2 + 1
        eps_2 = mu_2 / variance
        applies = (mu_1[:, None] > orders) & (mu_2[:, None] > 1)
        # q must lie where the bound increases in q and A is positive (Lemma 9, App. B).
        log_a2 = (mu_2 - 1) * eps_2
        in_range = (log_q <= log_a2 - mu_2 * (np.log(1 + 1 / (mu_1 - 1)) + np.log(1 + 1 / (mu_2 - 1)))) & (
            -log_q > eps_2
        )
        applies &= in_range[:, None]
        rdp = np.where(applies, np.minimum(independent, _theorem6(log_q, sigma, orders)), independent)
    # A fixed answer (q = 0) is 0-RDP.
    return np.where(np.isneginf(log_q)[:, None], 0.0, rdp)


# --------------------------------------------------------------------------- threshold (Confident-GNMax)


def threshold_log_pr_answered(votes: Any, *, threshold: float, sigma: float) -> np.ndarray | float:
    """Log of ``Pr[max_j n_j + N(0, sigma^2) >= threshold]``, Confident-GNMax's check.

    Papernot et al. 2018, Algorithm 1 and Sec. 4.2. As in the authors' code the maximum vote is
    rounded to the nearest integer (half to even), so that smooth sensitivity can treat it as a
    count also when votes are not integers (Interactive GNMax).

    Args:
        votes: vote histogram ``(k,)`` or a batch ``(n, k)``.
        threshold: the threshold ``T`` the noisy maximum must reach.
        sigma: standard deviation ``sigma_1`` of the threshold noise.

    Returns:
        ``log Pr[answered]`` in nats: a float, or ``(n,)`` for a batch.

    Raises:
        ValidationError: ``sigma <= 0``, a non-finite threshold, or bad votes.
    """
    threshold = check_scalar(threshold, "threshold")
    sigma = _check_sigma(sigma)
    # Only the maximum matters here, so a single count is a valid histogram.
    array, batched = check_votes_batch(votes, min_classes=1)
    log_pr = _threshold_log_pr_answered(np.round(array.max(axis=1)), threshold, sigma)
    return log_pr if batched else float(log_pr[0])


def _threshold_log_pr_answered(max_votes: np.ndarray, threshold: float, sigma: float) -> np.ndarray:
    return log_ndtr(-((threshold - max_votes) / sigma))


def threshold_rdp(*, log_pr_answered: Any, sigma: float, orders: Any) -> np.ndarray:
    """Data-dependent RDP of Confident-GNMax's threshold check (Papernot et al. 2018, Sec. 4.2).

    The check releases one bit whose input (the maximum vote) has sensitivity 1, half of GNMax's
    ``sqrt(2)``: Theorem 6 applies with noise ``sqrt(2) sigma`` and
    ``q = min(Pr[answered], Pr[not answered])``, the chance of the less likely outcome.

    Args:
        log_pr_answered: ``log Pr[answered]`` (from :func:`threshold_log_pr_answered`), scalar or ``(n,)``.
        sigma: standard deviation ``sigma_1`` of the threshold noise.
        orders: Renyi orders ``> 1``.

    Returns:
        RDP in nats, ``(n_orders,)`` or ``(n, n_orders)``.

    Raises:
        ValidationError: ``log_pr_answered > 0`` or NaN, ``sigma <= 0``, or an order ``<= 1``.
    """
    log_pr, batched = _check_log_probability(log_pr_answered, "log_pr_answered")
    sigma = _check_sigma(sigma)
    orders = check_orders(orders)
    return _shape_output(_threshold_rdp(log_pr, sigma, orders), batched)


def _threshold_rdp(log_pr: np.ndarray, sigma: float, orders: np.ndarray) -> np.ndarray:
    log_q = np.minimum(log_pr, _log1mexp(log_pr))
    return _rdp_gaussian(log_q, 2**0.5 * sigma, orders)


def threshold_rdp_data_independent(*, sigma: float, orders: Any) -> np.ndarray:
    """Data-independent RDP of the threshold check: ``alpha / (2 sigma^2)`` (sensitivity 1, Prop. 8).

    Raises:
        ValidationError: ``sigma <= 0`` or an order ``<= 1``.
    """
    sigma = _check_sigma(sigma)
    return gnmax_rdp_data_independent(sigma=2**0.5 * sigma, orders=orders)


def gnmax_data_independent_always_optimal(*, num_teachers: int, num_classes: int, sigma: float, orders: Any) -> bool:
    """Whether Theorem 6 never beats ``alpha / sigma^2`` at these orders (checked on unanimous votes).

    The data-dependent bound is smallest for unanimous votes; if it equals the data-independent
    one there (to ``np.isclose``), no vote histogram has a data-dependent advantage and there is
    no sensitivity to smooth (the authors' ``is_data_independent_always_opt_gaussian``).

    Raises:
        ValidationError: bad counts, ``sigma <= 0`` or an order ``<= 1``.
    """
    num_teachers = check_scalar(num_teachers, "num_teachers", kind=int, low=1)
    num_classes = check_scalar(num_classes, "num_classes", kind=int, low=2)
    sigma = _check_sigma(sigma)
    orders = check_orders(orders)
    unanimous = np.zeros((1, num_classes))
    unanimous[0, 0] = num_teachers
    dependent = _rdp_gaussian(_gnmax_log_q(unanimous, sigma), sigma, orders)[0]
    return bool(np.all(np.isclose(dependent, orders / sigma**2)))


def threshold_data_independent_always_optimal(
    *, num_teachers: int, threshold: float, sigma: float, orders: Any
) -> bool:
    """Whether the threshold check's data-dependent bound never beats ``alpha / (2 sigma^2)``.

    The bound depends on the data only through the maximum vote, in ``[0, num_teachers]``, and
    is smallest at the two ends, so checking both ends suffices (the authors'
    ``is_data_independent_always_opt_threshold``).

    Raises:
        ValidationError: bad counts or threshold, ``sigma <= 0`` or an order ``<= 1``.
    """
    num_teachers = check_scalar(num_teachers, "num_teachers", kind=int, low=1)
    threshold = check_scalar(threshold, "threshold")
    sigma = _check_sigma(sigma)
    orders = check_orders(orders)
    ends = _threshold_log_pr_answered(np.array([0.0, num_teachers]), threshold, sigma)
    dependent = _threshold_rdp(ends, sigma, orders)
    return bool(np.all(np.isclose(dependent, orders / (2**0.5 * sigma) ** 2)))


# --------------------------------------------------------------------------- LNMax (2017)


def lnmax_log_q(votes: Any, *, gamma: float) -> np.ndarray | float:
    """Log of the bound on ``Pr[LNMax(votes) != argmax votes]`` (Papernot et al. 2017, Sec. 3).

    For Laplace noise ``Lap(1 / gamma)`` a class ``gap`` votes behind the plurality wins with
    probability at most ``(2 + gamma gap) / (4 exp(gamma gap))`` (Lemma 4 of arXiv:1610.05755);
    ``q`` sums these over the other classes and is capped at ``1 - 1/k``.

    Args:
        votes: vote histogram ``(k,)`` or a batch ``(n, k)``.
        gamma: inverse scale of the Laplace noise.

    Returns:
        ``log q`` in nats: a float, or ``(n,)`` for a batch.

    Raises:
        ValidationError: ``gamma <= 0`` or bad votes.
    """
    gamma = check_scalar(gamma, "gamma", low=0, include_low=False)
    array, batched = check_votes_batch(votes)
    log_q = _lnmax_log_q(array, gamma)
    return log_q if batched else float(log_q[0])


def _lnmax_log_q(votes: np.ndarray, gamma: float) -> np.ndarray:
    n_classes = votes.shape[1]
    winner = np.argmax(votes, axis=1)
    gaps = gamma * (votes[np.arange(len(votes)), winner][:, None] - votes)
    log_terms = np.log(2 + gaps) + math.log(0.25) - gaps
    log_terms[np.arange(len(votes)), winner] = -np.inf
    return np.minimum(_logsumexp_rows(log_terms), math.log(1 - 1 / n_classes))


def _lnmax_log_t(log_q: np.ndarray, eps: float, moments: np.ndarray) -> np.ndarray:
    """Theorem 3 of the 2017 paper's ``log t`` for each ``log_q`` ``(n,)`` and moment ``(m,)``.

    ``log((1 - q) ((1 - q) / (1 - e^eps q))^l + q e^{eps l})``, ``(n, m)``; ``inf`` where the
    theorem does not apply.
    """
    log_1mq = _log1mexp(log_q)[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_t = np.logaddexp(
            log_1mq + (log_1mq - _log1mexp(np.minimum(eps + log_q, 0.0))[:, None]) * moments,
            log_q[:, None] + eps * moments,
        )
    # The bound needs q < (e^{2 gamma} - 1) / (e^{4 gamma} - 1) = 1 / (e^eps + 1).
    valid = np.exp(log_q) <= 1 / (math.exp(eps) + 1)
    return np.where(valid[:, None], log_t, np.inf)


def _lnmax_log_moments(log_q: np.ndarray, eps: float, moments: np.ndarray) -> np.ndarray:
    """Theorems 2 and 3 of the 2017 paper for each ``log_q`` ``(n,)`` and moment ``(m,)``: ``(n, m)``."""
    data_independent = np.minimum(0.5 * eps**2 * moments * (moments + 1), eps * moments)
    return np.minimum(data_independent, _lnmax_log_t(log_q, eps, moments))


def lnmax_log_moments(*, log_q: Any, gamma: float, moments: Any) -> np.ndarray:
    """Log-moment bound of one LNMax answer (Papernot et al. 2017, Theorems 2 and 3).

    LNMax with ``Lap(1 / gamma)`` noise is ``eps = 2 gamma``-DP, so its ``l``-th log moment is at
    most ``min(eps^2 l (l + 1) / 2, eps l)``; where ``q < 1 / (e^eps + 1)`` it is also at most
    ``log((1 - q) ((1 - q) / (1 - e^eps q))^l + q e^{eps l})`` (Theorem 3).

    Args:
        log_q: ``log q`` (from :func:`lnmax_log_q`), scalar or ``(n,)``.
        gamma: inverse scale of the Laplace noise.
        moments: the moments ``l > 0``, shape ``(n_moments,)``.

    Returns:
        Log moments in nats, ``(n_moments,)`` or ``(n, n_moments)``.

    Raises:
        ValidationError: ``log_q > 0`` or NaN, ``gamma <= 0``, or a moment ``<= 0``.
    """
    log_q, batched = _check_log_probability(log_q, "log_q")
    gamma = check_scalar(gamma, "gamma", low=0, include_low=False)
    moments = np.atleast_1d(_numeric(moments, "moments").astype(np.float64))
    if moments.ndim != 1 or moments.size == 0 or not np.all(np.isfinite(moments)) or np.any(moments <= 0):
        raise ValidationError(f"`moments` must be a non-empty 1-D array of finite moments > 0, got {moments!r}")
    return _shape_output(_lnmax_log_moments(log_q, 2 * gamma, moments), batched)


def lnmax_rdp(*, log_q: Any, gamma: float, orders: Any) -> np.ndarray:
    """Data-dependent RDP of LNMax: the 2017 log-moment bound at ``l = alpha - 1``, divided by ``l``.

    Equals ``min(eps^2 alpha / 2, eps, log_t / (alpha - 1))`` with ``eps = 2 gamma`` (Papernot et
    al. 2017, Theorem 3, as RDP; the authors' ``rdp_pure_eps``).

    Args:
        log_q: ``log q`` (from :func:`lnmax_log_q`), scalar or ``(n,)``.
        gamma: inverse scale of the Laplace noise.
        orders: Renyi orders ``> 1``.

    Returns:
        RDP in nats, ``(n_orders,)`` or ``(n, n_orders)``.

    Raises:
        ValidationError: ``log_q > 0`` or NaN, ``gamma <= 0``, or an order ``<= 1``.
    """
    log_q, batched = _check_log_probability(log_q, "log_q")
    gamma = check_scalar(gamma, "gamma", low=0, include_low=False)
    orders = check_orders(orders)
    return _shape_output(_lnmax_rdp(log_q, gamma, orders), batched)


def _lnmax_rdp(log_q: np.ndarray, gamma: float, orders: np.ndarray) -> np.ndarray:
    eps = 2 * gamma
    lam = orders - 1
    log_t = _lnmax_log_t(log_q, eps, lam)
    return np.minimum(np.minimum(0.5 * eps**2 * orders, log_t / lam), eps)


def lnmax_epsilon(
    votes: Any,
    *,
    gamma: float,
    delta: float,
    max_moment: int = DEFAULT_MAX_MOMENT,
    data_dependent: bool = True,
) -> tuple[float, int]:
    """Epsilon of LNMax answers by the 2017 moments accountant (Papernot et al. 2017, Sec. 3).

    Sums each answer's log moments ``alpha(l)`` (:func:`lnmax_log_moments`) over the queries
    for ``l = 1 .. max_moment`` and returns ``min_l (alpha(l) + log(1 / delta)) / l`` (Theorem 2),
    as the authors' ``analysis.py`` does. One deviation: Theorem 3's bound is used only under
    its hypothesis ``q < 1 / (e^{2 gamma} + 1)`` (as the authors' later ``rdp_pure_eps``), where
    ``analysis.py`` tested ``q < 0.5``; the two agree for ``gamma <= log(2) / 2 ~ 0.35`` (the
    paper's 0.05 included), and above it ``analysis.py`` could report invalid, even negative,
    moments.

    Args:
        votes: vote histograms ``(n, k)`` of the answered queries (or one ``(k,)``).
        gamma: inverse scale of the Laplace noise.
        delta: target delta in ``(0, 1)``.
        max_moment: the largest moment ``l`` tried.
        data_dependent: ``False`` uses the data-independent ``min(eps^2 l (l+1) / 2, eps l)``.

    Returns:
        ``(epsilon, moment)``: the bound and the moment ``l`` attaining it.

    Raises:
        ValidationError: bad votes, ``gamma <= 0``, ``delta`` outside ``(0, 1)`` or ``max_moment < 1``.
    """
    gamma = check_scalar(gamma, "gamma", low=0, include_low=False)
    delta = _check_delta(delta)
    max_moment = check_scalar(max_moment, "max_moment", kind=int, low=1)
    array, _ = check_votes_batch(votes)
    moments = np.arange(1, max_moment + 1, dtype=np.float64)
    log_q = _lnmax_log_q(array, gamma) if data_dependent else np.zeros(len(array))
    total = _lnmax_log_moments(log_q, 2 * gamma, moments).sum(axis=0)
    epsilons = (total - math.log(delta)) / moments
    best = int(np.argmin(epsilons))
    return float(epsilons[best]), int(moments[best])


# --------------------------------------------------------------------------- conversion


def epsilon_from_rdp(rdp: Any, *, orders: Any, delta: float, conversion: str = "classic") -> tuple[float, float]:
    """Smallest epsilon of an ``(epsilon, delta)``-DP guarantee implied by an RDP curve.

    ``"classic"``: ``rdp(alpha) + log(1 / delta) / (alpha - 1)`` (Mironov 2017, "Renyi
    Differential Privacy", Prop. 3), the conversion of the PATE papers. ``"balle2020"``:
    ``rdp(alpha) + log((alpha - 1) / alpha) - (log(delta) + log(alpha)) / (alpha - 1)`` (Balle
    et al. 2020, "Hypothesis Testing Interpretations and Renyi Differential Privacy", Thm. 21),
    smaller than the classic one at every order. Both are minimised over the orders; epsilon
    is reported as at least 0.

    Args:
        rdp: RDP in nats at each order, shape ``(n_orders,)``; ``inf`` entries are allowed.
        orders: the Renyi orders ``> 1`` of ``rdp``.
        delta: target delta in ``(0, 1)``.
        conversion: ``"classic"`` or ``"balle2020"``.

    Returns:
        ``(epsilon, order)``: the bound and the order attaining it.

    Raises:
        ValidationError: ``delta`` outside ``(0, 1)``, bad orders, a length mismatch, or
            negative / NaN RDP values.
    """
    orders = check_orders(orders)
    delta = _check_delta(delta)
    check_choice(conversion, "conversion", CONVERSIONS)
    rdp = np.atleast_1d(_numeric(rdp, "rdp").astype(np.float64))
    if rdp.shape != orders.shape:
        raise ValidationError(f"`rdp` must have one value per order, shape {orders.shape}, got {rdp.shape}")
    if np.any(np.isnan(rdp)) or np.any(rdp < 0):
        raise ValidationError(f"`rdp` must be non-negative RDP values in nats, got min {np.nanmin(rdp)!r} or NaN")
    if conversion == "classic":
        epsilons = rdp - math.log(delta) / (orders - 1)
    else:
        epsilons = rdp + np.log((orders - 1) / orders) - (math.log(delta) + np.log(orders)) / (orders - 1)
    best = int(np.argmin(epsilons))
    return max(float(epsilons[best]), 0.0), float(orders[best])


# --------------------------------------------------------------------------- accountant

# Queries per block when summing (queries, orders) cost matrices, to bound memory.
_CHUNK = 4096


def _sum_in_chunks(costs: Any, n: int) -> np.ndarray:
    """``sum`` over queries of ``costs(rows) -> (len(rows), n_orders)``, a block of rows at a time."""
    return sum(costs(slice(start, start + _CHUNK)).sum(axis=0) for start in range(0, n, _CHUNK))


@dataclass(frozen=True)
class PrivacySpent(ResultMixin):
    """An ``(epsilon, delta)``-DP guarantee read from a :class:`PrivacyAccountant`.

    Attributes:
        epsilon: the privacy loss bound, in nats.
        delta: the failure probability it holds with.
        order: the Renyi order the conversion chose.
        queries: queries charged (answered or not).
        expected_answered: expected number of answered queries (Confident-GNMax); equals
            the charged queries for GNMax and LNMax.
        conversion: ``"classic"`` or ``"balle2020"``.
    """

    epsilon: float
    delta: float
    order: float
    queries: int
    expected_answered: float
    conversion: str


class PrivacyAccountant:
    """Sums the data-dependent RDP of PATE's aggregators over the queries of one student.

    A thin, stateful layer over this module's pure functions (Papernot et al. 2018, Sec. 4 and
    the authors' ``rdp_cumulative.py``): each ``add_*`` call adds the per-query RDP curves over
    :attr:`orders`; :meth:`epsilon` converts the running total.

    Args:
        orders: Renyi orders ``> 1`` to track; default :data:`DEFAULT_ORDERS`, the authors' grid.

    Raises:
        ValidationError: an order ``<= 1``.

    Example:
        >>> accountant = PrivacyAccountant()
        >>> votes = np.array([[240, 6, 4], [130, 110, 10]])
        >>> accountant.add_confident_gnmax(votes, threshold=200, sigma_threshold=150, sigma=40)
        >>> round(accountant.epsilon(1e-5), 3), round(accountant.expected_answered, 3)
        (0.17, 0.926)
    """

    def __init__(self, *, orders: Any = None) -> None:
        self._orders = check_orders(DEFAULT_ORDERS if orders is None else orders)
        self._rdp = np.zeros_like(self._orders)
        self._queries = 0
        self._expected_answered = 0.0

    @property
    def orders(self) -> np.ndarray:
        """The tracked Renyi orders (a copy)."""
        return self._orders.copy()

    @property
    def rdp(self) -> np.ndarray:
        """The accumulated RDP in nats at each order (a copy)."""
        return self._rdp.copy()

    @property
    def queries(self) -> int:
        """Number of queries charged so far (answered or not)."""
        return self._queries

    @property
    def expected_answered(self) -> float:
        """Expected number of answered queries: ``sum Pr[answered]`` over the charged queries."""
        return self._expected_answered

    def add_gnmax(self, votes: Any, sigma: float, *, data_independent: bool = False) -> None:
        """Charge GNMax answers: Theorem 6 per query, or ``alpha / sigma^2`` if ``data_independent``.

        Args:
            votes: vote histogram ``(k,)`` or batch ``(n, k)`` of the answered queries.
            sigma: GNMax's noise standard deviation.
            data_independent: use Prop. 8's bound instead of the data-dependent one.

        Raises:
            ValidationError: bad votes or ``sigma <= 0``.
        """
        sigma = _check_sigma(sigma)
        array, _ = check_votes_batch(votes)
        if data_independent:
            cost = len(array) * self._orders / sigma**2
        else:
            log_q = _gnmax_log_q(array, sigma)
            cost = _sum_in_chunks(lambda rows: _rdp_gaussian(log_q[rows], sigma, self._orders), len(array))
        self._charge(cost, len(array), float(len(array)))

    def add_confident_gnmax(
        self,
        votes: Any,
        *,
        threshold: float,
        sigma_threshold: float,
        sigma: float,
        answered: Any = None,
        data_independent: bool = False,
    ) -> None:
        """Charge Confident-GNMax queries (Papernot et al. 2018, Algorithm 1, Sec. 4.2).

        Every query pays the threshold check. By default the GNMax step is charged in
        expectation, ``Pr[answered]`` times its cost, as the authors accumulate it; given the
        realised ``answered`` mask, it is charged in full on the answered queries only.

        Args:
            votes: vote histogram ``(k,)`` or batch ``(n, k)`` of every query asked.
            threshold: the threshold ``T``.
            sigma_threshold: the threshold noise ``sigma_1``.
            sigma: the answer noise ``sigma_2``.
            answered: optional boolean mask ``(n,)`` of the queries that passed the check.
            data_independent: use the data-independent bounds for both steps.

        Raises:
            ValidationError: bad votes, threshold, mask, or a sigma ``<= 0``.
        """
        threshold = check_scalar(threshold, "threshold")
        sigma_threshold = _check_sigma(sigma_threshold, "sigma_threshold")
        sigma = _check_sigma(sigma)
        array, _ = check_votes_batch(votes)
        log_pr = _threshold_log_pr_answered(np.round(array.max(axis=1)), threshold, sigma_threshold)
        pr_answered = np.exp(log_pr)
        weights = pr_answered if answered is None else self._check_mask(answered, len(array)).astype(np.float64)
        if data_independent:
            cost = len(array) * self._orders / (2**0.5 * sigma_threshold) ** 2 + weights.sum() * self._orders / sigma**2
        else:
            log_q = _gnmax_log_q(array, sigma)

            def query_costs(rows: slice) -> np.ndarray:
                check = _threshold_rdp(log_pr[rows], sigma_threshold, self._orders)
                return check + weights[rows, None] * _rdp_gaussian(log_q[rows], sigma, self._orders)

            cost = _sum_in_chunks(query_costs, len(array))
        self._charge(cost, len(array), float(pr_answered.sum()))

    def add_lnmax(self, votes: Any, gamma: float, *, data_independent: bool = False) -> None:
        """Charge LNMax answers with the 2017 moments bound (Theorem 3) as RDP at :attr:`orders`.

        Args:
            votes: vote histogram ``(k,)`` or batch ``(n, k)`` of the answered queries.
            gamma: inverse scale of the Laplace noise (each answer is ``2 gamma``-DP).
            data_independent: use ``min(2 gamma^2 alpha, 2 gamma)`` instead.

        Raises:
            ValidationError: bad votes or ``gamma <= 0``.
        """
        gamma = check_scalar(gamma, "gamma", low=0, include_low=False)
        array, _ = check_votes_batch(votes)
        log_q = np.zeros(len(array)) if data_independent else _lnmax_log_q(array, gamma)
        cost = _sum_in_chunks(lambda rows: _lnmax_rdp(log_q[rows], gamma, self._orders), len(array))
        self._charge(cost, len(array), float(len(array)))

    def epsilon(self, delta: float, *, conversion: str = "classic") -> float:
        """The epsilon of the ``(epsilon, delta)``-DP guarantee of everything charged so far.

        Raises:
            ValidationError: ``delta`` outside ``(0, 1)`` or an unknown conversion.
        """
        return epsilon_from_rdp(self._rdp, orders=self._orders, delta=delta, conversion=conversion)[0]

    def spent(self, delta: float, *, conversion: str = "classic") -> PrivacySpent:
        """The full guarantee: epsilon, the order attaining it, and the query counts.

        Raises:
            ValidationError: ``delta`` outside ``(0, 1)`` or an unknown conversion.
        """
        epsilon, order = epsilon_from_rdp(self._rdp, orders=self._orders, delta=delta, conversion=conversion)
        return PrivacySpent(
            epsilon=epsilon,
            delta=float(delta),
            order=order,
            queries=self._queries,
            expected_answered=self._expected_answered,
            conversion=conversion,
        )

    def _charge(self, cost: np.ndarray, queries: int, answered: float) -> None:
        self._rdp = self._rdp + cost
        self._queries += queries
        self._expected_answered += answered

    @staticmethod
    def _check_mask(answered: Any, n: int) -> np.ndarray:
        mask = np.atleast_1d(np.asarray(answered))
        if mask.dtype != bool or mask.shape != (n,):
            raise ValidationError(
                f"`answered` must be a boolean mask with one entry per query, shape ({n},), "
                f"got dtype {mask.dtype} and shape {mask.shape}"
            )
        return mask

    def __repr__(self) -> str:
        return (
            f"PrivacyAccountant(orders={len(self._orders)}, queries={self._queries}, "
            f"expected_answered={self._expected_answered:.2f})"
        )


__all__ = [
    "CONVERSIONS",
    "DEFAULT_MAX_MOMENT",
    "DEFAULT_ORDERS",
    "PrivacyAccountant",
    "PrivacySpent",
    "check_orders",
    "check_votes_batch",
    "epsilon_from_rdp",
    "gnmax_data_independent_always_optimal",
    "gnmax_log_q",
    "gnmax_rdp_data_dependent",
    "gnmax_rdp_data_independent",
    "lnmax_epsilon",
    "lnmax_log_moments",
    "lnmax_log_q",
    "lnmax_rdp",
    "threshold_data_independent_always_optimal",
    "threshold_log_pr_answered",
    "threshold_rdp",
    "threshold_rdp_data_independent",
]
