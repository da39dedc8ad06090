"""Smooth sensitivity of PATE's data-dependent privacy cost, and its private release.

The data-dependent RDP of :mod:`bastion.defenses.pate.privacy` depends on the teachers' votes,
so publishing it leaks. Papernot et al. 2018 ("Scalable Private Learning with PATE", ICLR,
Sec. 4.3 and App. C of arXiv:1802.08908) bound how fast that cost can change when one teacher
(one partition of the private data) changes, smooth the bound (Nissim, Raskhodnikova, Smith
2007), and release the cost with Gaussian noise scaled to it (the GNSS mechanism):

- Local sensitivity at distance ``d`` (Algorithms 3-5): the largest change of the RDP at
  order ``lambda`` caused by moving one teacher's vote, over histograms ``d`` teachers away.
  For GNMax, ``q`` moves at most between ``bl(q)`` and ``bu(q)`` per teacher,
  ``b(q) = (k - 1) Phi(Phi^{-1}(q / (k - 1)) -/+ sqrt(2) / sigma)`` (Prop. 13), and the RDP is
  taken piecewise: Theorem 6's expression below ``q0``, where it meets ``lambda / sigma^2``, and
  the data-independent bound above; between ``q1 = bl(q0)`` and ``q0`` the sensitivity is the
  plateau value at ``q1``. For the threshold check the cost depends only on the maximum vote, so
  the sensitivity is read off the costs at ``max = 0 .. num_teachers``.
- Smooth sensitivity ``SS_beta = max_d e^{-beta d} LS(d)``; for a sum over queries the
  per-query ``LS(d)`` are summed first (a teacher moves every query at once).
- Releasing ``rdp + SS_beta sigma_ss N(0, 1)`` is ``(lambda, lambda e^{2 beta} / sigma_ss^2 +
  (beta lambda - log(1 - 2 beta lambda) / 2) / (lambda - 1))``-RDP for ``1 < lambda <
  1 / (2 beta)`` (Theorem 23).

All costs are in nats. As in the authors' ``smooth_sensitivity.py``, the analysis is done at
one order ``lambda`` (the one that minimises epsilon). Algorithms 4-5 are sound only under the
conditions C5-C6 of App. B.4.2 (monotonicity of the bound in ``q``): the authors verify them
symbolically and stop when they fail; :func:`gnmax_sensitivity_conditions_hold` checks them
numerically and :func:`smooth_sensitivity_analysis` refuses parameters that fail them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import chdtri, log_ndtr, ndtri, ndtri_exp

from bastion.defenses.pate.privacy import (
    DEFAULT_ORDERS,
    check_orders,
    check_vote_histogram,
    check_votes_batch,
    gnmax_data_independent_always_optimal,
    gnmax_log_q,
    gnmax_rdp_bound,
    gnmax_rdp_data_dependent,
    threshold_data_independent_always_optimal,
    threshold_log_pr_answered,
    threshold_rdp,
)
from bastion.exceptions import ValidationError
from bastion.mixins import ResultMixin
from bastion.validation import check_scalar, check_seed

#: The authors' grid of smoothness parameters, in units of ``1 / order``: 0.30, 0.31, ..., 0.49.
DEFAULT_BETA_GRID = np.arange(0.3, 0.495, 0.01)


def _check_order(order: Any) -> float:
    return float(check_orders(check_scalar(order, "order"), "order")[0])


def _check_sigma(sigma: Any, name: str = "sigma") -> float:
    return check_scalar(sigma, name, low=0, include_low=False)


# --------------------------------------------------------------------------- GNMax piecewise bound


def _data_dependent_bound(log_q: np.ndarray, sigma: float, order: float) -> np.ndarray:
    """Theorem 6's expression at one order, without its conditions (the caller keeps ``q < q0``)."""
    return gnmax_rdp_bound(log_q=log_q, sigma=sigma, orders=[order])[:, 0]


@functools.lru_cache(maxsize=1024)
def _log_q0(sigma: float, order: float) -> float:
    independent = order / sigma**2

    def excess(log_q: float) -> float:
        return float(_data_dependent_bound(np.array([log_q]), sigma, order)[0]) - independent

    # Theorem 6 holds below this natural upper bound on q0 (mu_1 >= order, Lemma 9).
    upper = min(-((1 + 1.0 / sigma) ** 2), -(((order - 0.99) / sigma) ** 2), -1 / sigma**2)
    if excess(upper) < 0:
        return upper
    lower = 2 * upper
    while excess(lower) > 0:
        if lower < -10000:
            raise ValidationError(
                f"no q0 found for sigma={sigma:g} and order={order:g}: the data-dependent bound never "
                "beats the data-independent one; use a larger sigma or a smaller order"
            )
        lower *= 1.5
    return float(brentq(excess, lower, upper))


def gnmax_log_q0(*, sigma: float, order: float) -> float:
    """``log q0``: below ``q0`` Theorem 6 beats ``lambda / sigma^2`` (Papernot et al. 2018, App. C).

    The crossing point of Theorem 6's expression and the data-independent bound at ``order``,
    found by bracketing below the natural bound ``min(-(1 + 1/sigma)^2, -((order - .99)/sigma)^2,
    -1/sigma^2)`` (where Theorem 6's conditions hold) and Brent's method; if Theorem 6 already
    wins at that bound, the bound itself.

    Raises:
        ValidationError: ``sigma <= 0``, ``order <= 1``, or no crossing exists.
    """
    return _log_q0(_check_sigma(sigma), _check_order(order))


@functools.lru_cache(maxsize=1024)
def _conditions_hold(sigma: float, num_classes: int, order: float) -> bool:
    log_q0 = _log_q0(sigma, order)
    independent = order / sigma**2
    # Algorithm 3's plateau assumes the piecewise bound is continuous at q0, i.e. that q0 is
    # the crossing point and not the natural upper bound where Theorem 6 already wins.
    at_q0 = float(_data_dependent_bound(np.array([log_q0]), sigma, order)[0])
    if at_q0 < independent * (1 - 1e-9):
        return False
    scale = 1e-12 * independent
    # C5: the bound is non-decreasing in q on (0, q0); checked on a dense log-spaced grid.
    log_q = log_q0 - np.geomspace(1e-6, 1e4, 4000)[::-1]
    beta = _data_dependent_bound(log_q, sigma, order)
    if np.any(np.diff(beta) < -scale):
        return False
    # C6: beta(bu(q)) - beta(q) is non-decreasing in q on (0, bl(q0)).
    log_q1 = float(_log_bound_q(np.array([log_q0]), sigma, num_classes, -math.sqrt(2) / sigma)[0])
    log_q = log_q1 - np.geomspace(1e-6, 1e4, 4000)[::-1]
    log_up = np.minimum(_log_bound_q(log_q, sigma, num_classes, math.sqrt(2) / sigma), log_q0)
    gain = _data_dependent_bound(log_up, sigma, order) - _data_dependent_bound(log_q, sigma, order)
    return not np.any(np.diff(gain) < -scale)


def gnmax_sensitivity_conditions_hold(*, sigma: float, num_classes: int, order: float) -> bool:
    """Whether the smooth-sensitivity analysis of GNMax is sound at these parameters.

    Algorithms 4-5 (Papernot et al. 2018, App. B.4.2 and C) need Theorem 6's bound ``beta(q)``
    non-decreasing on ``(0, q0)`` (condition C5) and ``beta(bu(q)) - beta(q)`` non-decreasing
    on ``(0, bl(q0))`` (C6); the authors verify them symbolically and stop if they fail. This
    checks both on a dense grid of ``log q`` (4000 points over ``10^-6 .. 10^4`` nats below
    ``q0`` and ``q1``), and also that the piecewise bound is continuous at ``q0``, which the
    plateau of Algorithm 3 assumes (it is not for small ``sigma`` at low orders, where ``q0``
    is the natural bound ``-(1 + 1/sigma)^2`` rather than a crossing point).

    Raises:
        ValidationError: ``sigma <= 0``, ``num_classes < 2`` or ``order <= 1``.
    """
    sigma = _check_sigma(sigma)
    num_classes = check_scalar(num_classes, "num_classes", kind=int, low=2)
    return _conditions_hold(sigma, num_classes, _check_order(order))


def _log_bound_q(log_q: np.ndarray, sigma: float, num_classes: int, shift: float) -> np.ndarray:
    """``log((k - 1) Phi(Phi^{-1}(q / (k - 1)) + shift))``, in log space so tiny ``q`` is exact."""
    log_classes = math.log(num_classes - 1)
    return log_classes + log_ndtr(ndtri_exp(log_q - log_classes) + shift)


def _rdp_piecewise(log_q: np.ndarray, sigma: float, order: float, log_q0: float) -> np.ndarray:
    return np.where(log_q >= log_q0, order / sigma**2, _data_dependent_bound(log_q, sigma, order))


def _gnmax_local_sensitivity_at(log_q: np.ndarray, sigma: float, num_classes: int, order: float) -> np.ndarray:
    """Algorithm 3: a bound on the local sensitivity of the RDP at each ``log_q`` (Prop. 13)."""
    log_q0 = _log_q0(sigma, order)
    log_q1 = float(_log_bound_q(np.array([log_q0]), sigma, num_classes, -math.sqrt(2) / sigma)[0])
    log_q = np.where((log_q1 <= log_q) & (log_q <= log_q0), log_q1, log_q)
    beta = _rdp_piecewise(log_q, sigma, order, log_q0)
    log_up = np.minimum(0.0, _log_bound_q(log_q, sigma, num_classes, math.sqrt(2) / sigma))
    log_down = _log_bound_q(log_q, sigma, num_classes, -math.sqrt(2) / sigma)
    beta_up = _rdp_piecewise(log_up, sigma, order, log_q0)
    beta_down = _rdp_piecewise(log_down, sigma, order, log_q0)
    return np.maximum(beta_up - beta, beta - beta_down)


def _left_path(sorted_votes: np.ndarray, steps: int) -> np.ndarray:
    """Histograms after moving 1, 2, ... votes from the runner-up to the plurality (re-sorting)."""
    votes = list(sorted_votes)
    path = []
    for _ in range(steps):
        if votes[1] <= 0:
            break
        votes[0] += 1
        votes[1] -= 1
        index = 1
        while index < len(votes) - 1 and votes[index] < votes[index + 1]:
            votes[index], votes[index + 1] = votes[index + 1], votes[index]
            index += 1
        path.append(list(votes))
    return np.array(path, dtype=np.float64).reshape(-1, len(votes))


def gnmax_local_sensitivity(votes: Any, *, num_teachers: int, sigma: float, order: float) -> np.ndarray:
    """Local sensitivity of GNMax's data-dependent RDP at distances ``d = 0 .. num_teachers - 1``.

    Papernot et al. 2018, App. C, Algorithms 4 and 5 in ``O(num_teachers * k)``: starting from
    ``votes``, histograms ``d`` teachers away move ``q`` towards the plateau ``[q1, q0]`` fastest
    by shifting votes between the plurality and the runner-up; past the plateau the sensitivity
    stays at its plateau value.

    Args:
        votes: one vote histogram ``(k,)``.
        num_teachers: number of teachers (the largest distance).
        sigma: GNMax's noise standard deviation.
        order: the Renyi order ``lambda`` of the analysis.

    Returns:
        ``(num_teachers,)`` local sensitivities in nats; an upper bound only where
        :func:`gnmax_sensitivity_conditions_hold`.

    Raises:
        ValidationError: bad votes, ``num_teachers < 1``, ``sigma <= 0`` or ``order <= 1``.
    """
    votes = check_vote_histogram(votes)
    num_teachers = check_scalar(num_teachers, "num_teachers", kind=int, low=1)
    sigma = _check_sigma(sigma)
    order = _check_order(order)
    return _gnmax_local_sensitivity(votes, num_teachers, sigma, order)


def _gnmax_local_sensitivity(votes: np.ndarray, num_teachers: int, sigma: float, order: float) -> np.ndarray:
    num_classes = len(votes)
    log_q0 = _log_q0(sigma, order)
    log_q1 = float(_log_bound_q(np.array([log_q0]), sigma, num_classes, -math.sqrt(2) / sigma)[0])
    plateau = float(_gnmax_local_sensitivity_at(np.array([log_q1]), sigma, num_classes, order)[0])
    result = np.full(num_teachers, plateau)
    log_q = float(gnmax_log_q(votes[None, :], sigma=sigma)[0])
    if log_q1 <= log_q <= log_q0:
        return result
    ordered = np.sort(votes)[::-1]
    if log_q > log_q0:
        # Widen the gap until q falls to q0 (or the runner-ups run out of votes).
        path = _left_path(ordered, num_teachers)
        path_log_q = gnmax_log_q(path, sigma=sigma) if len(path) else np.empty(0)
        stop = np.flatnonzero((path_log_q <= log_q0) | (path[:, 1] <= 0)) if len(path) else np.empty(0, int)
    else:
        # Narrow the gap until q rises to q1.
        steps = np.arange(1, math.ceil(ordered[0] - ordered[1]) + 2)
        path = np.repeat(ordered[None, :], len(steps), axis=0)
        path[:, 0] -= steps
        path[:, 1] += steps
        path_log_q = gnmax_log_q(path, sigma=sigma)
        stop = np.flatnonzero(path_log_q >= log_q1)
    last = int(stop[0]) + 1 if len(stop) else len(path_log_q)
    distances = min(last + 1, num_teachers)
    all_log_q = np.concatenate(([log_q], path_log_q[:last]))[:distances]
    result[:distances] = _gnmax_local_sensitivity_at(all_log_q, sigma, num_classes, order)
    return result


# --------------------------------------------------------------------------- threshold


def threshold_local_sensitivity(
    votes: Any, *, num_teachers: int, threshold: float, sigma: float, order: float
) -> np.ndarray:
    """Local sensitivity of the threshold check's RDP at distances ``d = 0 .. num_teachers - 1``.

    Papernot et al. 2018, App. C: the check's cost depends on the votes only through the
    (rounded) maximum ``v``, which one teacher moves by at most 1, so the sensitivity at ``v`` is
    the larger step of the cost to ``v - 1`` or ``v + 1``; at distance ``d`` it is the larger of
    those at ``v +/- d`` (0 beyond ``[0, num_teachers]``).

    Args:
        votes: one vote histogram ``(k,)``; its rounded maximum must lie in ``[0, num_teachers]``.
        num_teachers: number of teachers.
        threshold: the threshold ``T``.
        sigma: the threshold noise ``sigma_1``.
        order: the Renyi order ``lambda``.

    Returns:
        ``(num_teachers,)`` local sensitivities in nats.

    Raises:
        ValidationError: bad votes, counts, ``sigma <= 0`` or ``order <= 1``.
    """
    array = check_vote_histogram(votes)
    num_teachers = check_scalar(num_teachers, "num_teachers", kind=int, low=1)
    threshold = check_scalar(threshold, "threshold")
    sigma = _check_sigma(sigma, "sigma")
    order = _check_order(order)
    current = int(np.round(array.max()))
    if not 0 <= current <= num_teachers:
        raise ValidationError(f"the rounded maximum vote must lie in [0, num_teachers={num_teachers}], got {current}")
    return _threshold_local_sensitivity(current, num_teachers, threshold, sigma, order)


@functools.lru_cache(maxsize=256)
def _threshold_step_sensitivity(num_teachers: int, threshold: float, sigma: float, order: float) -> np.ndarray:
    """Sensitivity of the check's cost at each maximum vote ``0 .. num_teachers``."""
    counts = np.arange(num_teachers + 1, dtype=np.float64)[:, None]
    log_pr = threshold_log_pr_answered(counts, threshold=threshold, sigma=sigma)
    costs = threshold_rdp(log_pr_answered=log_pr, sigma=sigma, orders=[order])[:, 0]
    steps = np.abs(np.diff(costs))
    down = np.concatenate(([-np.inf], steps))
    up = np.concatenate((steps, [-np.inf]))
    return np.maximum(down, up)


def _threshold_local_sensitivity(
    current: int, num_teachers: int, threshold: float, sigma: float, order: float
) -> np.ndarray:
    per_max = _threshold_step_sensitivity(num_teachers, threshold, sigma, order)
    distances = np.arange(max(current, num_teachers - current))
    above, below = current + distances, current - distances
    up = np.where(above <= num_teachers, per_max[np.minimum(above, num_teachers)], -np.inf)
    down = np.where(below >= 0, per_max[np.maximum(below, 0)], -np.inf)
    result = np.zeros(num_teachers)
    result[: len(distances)] = np.maximum(up, down)
    return result


# --------------------------------------------------------------------------- smoothing and release


def smooth_sensitivity(local_sensitivity: Any, *, beta: float) -> float:
    """``beta``-smooth sensitivity ``max_d e^{-beta d} LS(d)`` (Nissim et al. 2007, Def. 2.1).

    Args:
        local_sensitivity: local sensitivities at distances ``0, 1, ...`` (``(n_distances,)``).
        beta: smoothness ``>= 0``.

    Raises:
        ValidationError: ``beta < 0`` or an empty / non-finite / negative input.
    """
    beta = check_scalar(beta, "beta", low=0)
    values = np.asarray(local_sensitivity, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValidationError(
            "`local_sensitivity` must be a non-empty 1-D array of finite, non-negative values, "
            f"got shape {values.shape}"
        )
    return float(np.max(values * np.exp(-beta * np.arange(values.size))))


def gnss_rdp(*, beta: float, sigma: float, order: float) -> float:
    """RDP of the GNSS release ``f(D) + SS_beta(D) sigma N(0, 1)`` (Papernot et al. 2018, Theorem 23).

    ``lambda e^{2 beta} / sigma^2 + (beta lambda - log(1 - 2 beta lambda) / 2) / (lambda - 1)``,
    valid for ``1 < lambda < 1 / (2 beta)``. ``sigma = inf`` (nothing to release) costs only the
    second term, 0 at ``beta = 0``.

    Raises:
        ValidationError: ``beta < 0``, ``sigma <= 0``, or ``order`` outside ``(1, 1 / (2 beta))``.
    """
    beta = check_scalar(beta, "beta", low=0)
    order = _check_order(order)
    if not (isinstance(sigma, (int, float)) and sigma == math.inf):
        sigma = _check_sigma(sigma)
    if beta > 0 and not order < 1 / (2 * beta):
        raise ValidationError(f"`order` must lie in (1, 1/(2 beta)) = (1, {1 / (2 * beta):g}), got {order:g}")
    return order * math.exp(2 * beta) / sigma**2 + (-0.5 * math.log(1 - 2 * order * beta) + beta * order) / (order - 1)


def smooth_sensitivity_release_params(*, epsilon: float, delta: float) -> tuple[float, float]:
    """``(alpha, beta)`` for an ``(epsilon, delta)``-DP Gaussian release scaled to ``SS_beta / alpha``.

    Nissim, Raskhodnikova, Smith 2007 (full version), Lemma 2.6 with the condition on ``alpha``
    extracted from the proof of Lemma 2.10, as in the authors' ``compute_params_for_ss_release``:
    with ``a`` the ``1 - delta/2`` normal quantile, ``alpha = sqrt(a^2 + epsilon/2) - a`` and
    ``beta = epsilon / (2 chi2_1^{-1}(1 - delta/2))``. An alternative to the RDP route above.

    Raises:
        ValidationError: ``epsilon <= 0`` or ``delta`` outside ``(0, 1)``.
    """
    epsilon = check_scalar(epsilon, "epsilon", low=0, include_low=False)
    delta = check_scalar(delta, "delta", low=0, high=1, include_low=False, include_high=False)
    a = float(ndtri(1 - delta / 2))
    alpha = math.sqrt(a**2 + epsilon / 2) - a
    beta = epsilon / (2 * float(chdtri(1, delta / 2)))
    return alpha, beta


class SmoothSensitivityWarning(RuntimeWarning):
    """A data-dependent epsilon could not be released with smooth sensitivity.

    Raised (as a warning) when the smooth-sensitivity analysis is unsound for the
    aggregator's parameters (Papernot et al. 2018, App. C conditions); the labelling still
    reports its unpublishable data-dependent epsilon and the data-independent bound.
    """


@dataclass(frozen=True)
class SmoothSensitivityAnalysis(ResultMixin):
    """The data-dependent privacy cost at one order and what it takes to publish it.

    All costs are in nats, at Renyi order ``order``. ``rdp`` is the data-dependent RDP of the
    queries; ``epsilon`` its ``(epsilon, delta)`` value; the GNSS release adds
    ``gnss_rdp`` to it (``epsilon_expected``) and Gaussian noise of standard deviation
    ``epsilon_std = smooth_sensitivity * sigma_ss``.

    Attributes:
        order, delta: the Renyi order and the target delta.
        rdp: data-dependent RDP of all queries at ``order``.
        epsilon: ``rdp + log(1/delta) / (order - 1)``, the unpublishable data-dependent epsilon.
        beta: smoothness of the sensitivity bound.
        smooth_sensitivity: ``SS_beta`` of ``rdp``.
        sigma_ss: noise multiplier of the release (``inf`` when nothing depends on the data).
        gnss_rdp: RDP cost of the release itself (Theorem 23).
        epsilon_expected: ``epsilon + gnss_rdp``, the expected published epsilon.
        epsilon_std: standard deviation of the published epsilon.
        expected_answered: expected number of answered queries.
    """

    order: float
    delta: float
    rdp: float
    epsilon: float
    beta: float
    smooth_sensitivity: float
    sigma_ss: float
    gnss_rdp: float
    epsilon_expected: float
    epsilon_std: float
    expected_answered: float

    def release(self, *, seed: int) -> float:
        """Publish epsilon privately: ``epsilon_expected + epsilon_std * N(0, 1)``, seeded."""
        seed = check_seed(seed)
        if self.epsilon_std == 0:
            return self.epsilon_expected
        noise = float(np.random.default_rng(seed).standard_normal())
        return self.epsilon_expected + self.epsilon_std * noise


def smooth_sensitivity_analysis(
    votes: Any,
    *,
    sigma: float,
    delta: float,
    num_teachers: int | None = None,
    threshold: float | None = None,
    sigma_threshold: float | None = None,
    order: float | None = None,
    orders: Any = None,
    betas: Any = None,
    sound_orders_only: bool = False,
) -> SmoothSensitivityAnalysis:
    """Smooth-sensitivity analysis of GNMax or Confident-GNMax queries (Papernot et al. 2018, Sec. 4.3).

    Follows the authors' ``smooth_sensitivity_table.py``: the order is the one minimising the
    data-dependent epsilon over ``orders`` (unless given); per query the cost is the threshold
    cost plus ``Pr[answered]`` times the GNMax cost and the local sensitivities are summed the
    same way; a step whose data-independent bound is always optimal contributes no
    sensitivity. ``beta`` (from ``betas / order``) and ``sigma_ss = (order e^{2 beta} / SS)^{1/3}``
    minimise ``rdp + gnss_rdp + 2 SS sigma_ss``. That choice looks at the data, as the authors
    note: fix ``betas`` to one value in advance for a release that is private end to end.
    Like the authors' script, it refuses an order where conditions C5-C6 fail; with
    ``sound_orders_only`` it instead takes the best order of ``orders`` where they hold (or
    where the GNMax step has no data dependence), the same order whenever the authors' goes.

    Args:
        votes: vote histograms ``(n, k)`` of every query.
        sigma: GNMax's noise (``sigma_2`` for Confident-GNMax).
        delta: target delta in ``(0, 1)``.
        num_teachers: number of teachers; default the largest row sum of ``votes``.
        threshold, sigma_threshold: Confident-GNMax's check; both or neither.
        order: a fixed Renyi order; default the optimal one over ``orders``.
        orders: the order grid; default :data:`~bastion.defenses.pate.privacy.DEFAULT_ORDERS`.
        betas: smoothness candidates in units of ``1 / order``, each in ``(0, 0.5)``; default
            :data:`DEFAULT_BETA_GRID`.
        sound_orders_only: when choosing the order, skip those where C5-C6 fail.

    Raises:
        ValidationError: bad votes or parameters, only one of ``threshold`` / ``sigma_threshold``,
            or conditions C5-C6 failing at ``sigma`` and the order.
    """
    array, _ = check_votes_batch(votes)
    sigma = _check_sigma(sigma)
    delta = check_scalar(delta, "delta", low=0, high=1, include_low=False, include_high=False)
    if (threshold is None) != (sigma_threshold is None):
        raise ValidationError(
            "`threshold` and `sigma_threshold` must be given together (Confident-GNMax) or not at all"
        )
    confident = threshold is not None
    if confident:
        threshold = check_scalar(threshold, "threshold")
        sigma_threshold = _check_sigma(sigma_threshold, "sigma_threshold")
    if num_teachers is None:
        num_teachers = round(float(array.sum(axis=1).max()))
    num_teachers = check_scalar(num_teachers, "num_teachers", kind=int, low=1)
    betas = DEFAULT_BETA_GRID if betas is None else np.atleast_1d(np.asarray(betas, dtype=np.float64))
    if betas.ndim != 1 or betas.size == 0 or np.any(betas <= 0) or np.any(betas >= 0.5):
        raise ValidationError(f"`betas` must be values in (0, 0.5) (units of 1/order), got {betas!r}")

    log_q = gnmax_log_q(array, sigma=sigma)
    if confident:
        max_votes = np.round(array.max(axis=1))
        log_pr = threshold_log_pr_answered(array, threshold=threshold, sigma=sigma_threshold)
    else:
        log_pr = np.zeros(len(array))
    pr_answered = np.exp(log_pr)

    if order is None:
        grid = check_orders(DEFAULT_ORDERS if orders is None else orders)
        rdp_grid = (pr_answered[:, None] * gnmax_rdp_data_dependent(log_q=log_q, sigma=sigma, orders=grid)).sum(axis=0)
        if confident:
            rdp_grid = rdp_grid + threshold_rdp(log_pr_answered=log_pr, sigma=sigma_threshold, orders=grid).sum(axis=0)
        epsilons = rdp_grid - math.log(delta) / (grid - 1)
        ranked = np.argsort(epsilons, kind="stable")
        order = float(grid[ranked[0]])
        if sound_orders_only:
            # Where the unrestricted optimum is sound (the only case the authors' script goes
            # on with) it is the one chosen.
            order = None
            for index in ranked:
                candidate = float(grid[index])
                if _conditions_hold(sigma, array.shape[1], candidate) or gnmax_data_independent_always_optimal(
                    num_teachers=num_teachers, num_classes=array.shape[1], sigma=sigma, orders=[candidate]
                ):
                    order = candidate
                    break
        if order is None:
            raise ValidationError(
                f"the smooth-sensitivity bound of GNMax is unsound at sigma={sigma:g} for every order in "
                "`orders` (conditions C5-C6 of Papernot et al. 2018, App. B.4.2, fail); use a larger `sigma`"
            )
    order = _check_order(order)
    at_order = np.array([order])

    # A step whose data-independent bound is always optimal is charged that bound and has no
    # sensitivity to smooth.
    gnmax_independent = gnmax_data_independent_always_optimal(
        num_teachers=num_teachers, num_classes=array.shape[1], sigma=sigma, orders=at_order
    )
    threshold_independent = not confident or threshold_data_independent_always_optimal(
        num_teachers=num_teachers, threshold=threshold, sigma=sigma_threshold, orders=at_order
    )
    if not gnmax_independent and not _conditions_hold(sigma, array.shape[1], order):
        raise ValidationError(
            f"the smooth-sensitivity bound of GNMax is unsound at sigma={sigma:g}, order={order:g} with "
            f"{array.shape[1]} classes (conditions C5-C6 of Papernot et al. 2018, App. B.4.2, fail); "
            "use a larger `sigma` or give a smaller `order`"
        )
    local = np.zeros(num_teachers)
    if gnmax_independent:
        gnmax_costs = np.full(len(array), order / sigma**2)
    else:
        gnmax_costs = gnmax_rdp_data_dependent(log_q=log_q, sigma=sigma, orders=at_order)[:, 0]
        for row, weight in zip(array, pr_answered):
            local += weight * _gnmax_local_sensitivity(row, num_teachers, sigma, order)
    rdp = float((pr_answered * gnmax_costs).sum())
    if confident and threshold_independent:
        rdp += len(array) * order / (2**0.5 * sigma_threshold) ** 2
    elif confident:
        rdp += float(threshold_rdp(log_pr_answered=log_pr, sigma=sigma_threshold, orders=at_order)[:, 0].sum())
        for current in max_votes.astype(int):
            if not 0 <= current <= num_teachers:
                raise ValidationError(
                    f"the rounded maximum vote must lie in [0, num_teachers={num_teachers}], got {current}"
                )
            local += _threshold_local_sensitivity(int(current), num_teachers, threshold, sigma_threshold, order)

    epsilon = rdp + math.log(1 / delta) / (order - 1)
    if (gnmax_independent and threshold_independent) or not np.any(local > 0):
        beta, ss, sigma_ss, cost = 0.0, 0.0, math.inf, 0.0
    else:
        candidates = betas / order
        discounts = np.exp(-candidates[:, None] * np.arange(num_teachers))
        ss_values = np.max(local[None, :] * discounts, axis=1)
        sigma_values = (order * np.exp(2 * candidates) / ss_values) ** (1 / 3)
        costs = np.array([gnss_rdp(beta=b, sigma=s, order=order) for b, s in zip(candidates, sigma_values)])
        best = int(np.argmin(costs + 2 * ss_values * sigma_values))
        beta, ss, sigma_ss, cost = (
            float(candidates[best]),
            float(ss_values[best]),
            float(sigma_values[best]),
            costs[best],
        )
    return SmoothSensitivityAnalysis(
        order=order,
        delta=delta,
        rdp=rdp,
        epsilon=epsilon,
        beta=beta,
        smooth_sensitivity=ss,
        sigma_ss=sigma_ss,
        gnss_rdp=float(cost),
        epsilon_expected=epsilon + float(cost),
        epsilon_std=ss * sigma_ss if ss > 0 else 0.0,
        expected_answered=float(pr_answered.sum()),
    )


__all__ = [
    "DEFAULT_BETA_GRID",
    "SmoothSensitivityAnalysis",
    "gnmax_local_sensitivity",
    "gnmax_log_q0",
    "gnmax_sensitivity_conditions_hold",
    "gnss_rdp",
    "smooth_sensitivity",
    "smooth_sensitivity_analysis",
    "smooth_sensitivity_release_params",
    "threshold_local_sensitivity",
]
