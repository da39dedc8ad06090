"""Tests of PATE's privacy accounting against independent high-precision and closed-form values."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from bastion.defenses.pate import privacy
from bastion.defenses.pate.privacy import (
    DEFAULT_ORDERS,
    PrivacyAccountant,
    PrivacySpent,
    epsilon_from_rdp,
    gnmax_data_independent_always_optimal,
    gnmax_log_q,
    gnmax_rdp_data_dependent,
    gnmax_rdp_data_independent,
    lnmax_epsilon,
    lnmax_log_moments,
    lnmax_log_q,
    lnmax_rdp,
    threshold_data_independent_always_optimal,
    threshold_log_pr_answered,
    threshold_rdp,
    threshold_rdp_data_independent,
)
from bastion.exceptions import InputTypeError, ValidationError

mp.mp.dps = 50


# --------------------------------------------------------------------------- independent references


def union_bound_log_q(votes, sigma):
    """Prop. 7 in 50-digit arithmetic: sum of Pr[N(0, 2 sigma^2) >= gap] over non-winners."""
    votes = [mp.mpf(float(v)) for v in votes]
    winner = max(range(len(votes)), key=lambda i: (votes[i], -i))
    q = mp.fsum(mp.erfc((votes[winner] - v) / (2 * sigma)) / 2 for i, v in enumerate(votes) if i != winner)
    return float(mp.log(min(q, 1 - mp.mpf(1) / len(votes))))


def theorem_6(log_q, sigma, order):
    """Theorem 6 of Papernot et al. 2018 written as in the paper (A, B and its conditions), 50 digits."""
    independent = mp.mpf(order) / sigma**2
    if log_q == -math.inf:
        return 0.0
    log_q, sigma, order = mp.mpf(log_q), mp.mpf(sigma), mp.mpf(order)
    q = mp.exp(log_q)
    mu_2 = sigma * mp.sqrt(-log_q)
    mu_1 = mu_2 + 1
    eps_1, eps_2 = mu_1 / sigma**2, mu_2 / sigma**2
    if not (mu_2 > 1 and order < mu_1 and q * mp.exp(eps_2) < 1):
        return float(independent)
    if q > mp.exp((mu_2 - 1) * eps_2) / (mu_1 / (mu_1 - 1) * mu_2 / (mu_2 - 1)) ** mu_2:
        return float(independent)
    a = (1 - q) / (1 - (q * mp.exp(eps_2)) ** ((mu_2 - 1) / mu_2))
    b = mp.exp(eps_1) / q ** (1 / (mu_1 - 1))
    dependent = mp.log((1 - q) * a ** (order - 1) + q * b ** (order - 1)) / (order - 1)
    return float(min(independent, dependent))


def lnmax_q_2017(votes, gamma):
    """The 2017 paper's bound on Pr[LNMax != plurality], term by term in plain floats."""
    winner = int(np.argmax(votes))
    q = sum(
        (2 + gamma * (votes[winner] - v)) / (4 * math.exp(gamma * (votes[winner] - v)))
        for i, v in enumerate(votes)
        if i != winner
    )
    return min(q, 1 - 1 / len(votes))


def theorem_3_2017(q, eps, moment):
    """Theorem 3 of Papernot et al. 2017 (log moment of an eps-DP answer given q), 50 digits."""
    q, eps, moment = mp.mpf(float(q)), mp.mpf(float(eps)), mp.mpf(float(moment))
    bounds = [eps**2 * moment * (moment + 1) / 2, eps * moment]
    if q < 1 / (mp.exp(eps) + 1):
        bounds.append(mp.log((1 - q) * ((1 - q) / (1 - mp.exp(eps) * q)) ** moment + q * mp.exp(eps * moment)))
    return float(min(bounds))


def simulated_votes(n, *, teachers=250, classes=10, concentration=0.3, seed=0):
    """Vote histograms of a simulated ensemble: each query's teachers vote from a Dirichlet draw."""
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.full(classes, concentration), size=n)
    return np.stack([rng.multinomial(teachers, p) for p in probabilities]).astype(np.float64)


# --------------------------------------------------------------------------- GNMax


def test_gnmax_log_q_matches_union_bound_in_high_precision():
    votes = simulated_votes(40, teachers=250, concentration=0.5, seed=1)
    for sigma in (5.0, 40.0, 150.0):
        expected = [union_bound_log_q(row, sigma) for row in votes]
        np.testing.assert_allclose(gnmax_log_q(votes, sigma=sigma), expected, rtol=1e-12)


def test_gnmax_log_q_two_classes_is_one_gaussian_tail():
    # Pr[N(0, 2 sigma^2) >= 60] with sigma = 40: Phi(-60 / (40 sqrt 2)).
    expected = math.log(0.5 * math.erfc(60 / (2 * 40)))
    assert gnmax_log_q(np.array([155, 95]), sigma=40) == pytest.approx(expected, rel=1e-13)


def test_gnmax_log_q_is_capped_at_a_uniform_guess():
    assert gnmax_log_q(np.full(10, 25.0), sigma=40) == pytest.approx(math.log(0.9), rel=1e-14)


def test_gnmax_log_q_batch_equals_row_by_row():
    votes = simulated_votes(7, seed=2)
    batch = gnmax_log_q(votes, sigma=20)
    assert batch.shape == (7,)
    np.testing.assert_array_equal(batch, [gnmax_log_q(row, sigma=20) for row in votes])


def test_gnmax_rdp_data_independent_is_order_over_variance():
    np.testing.assert_array_equal(gnmax_rdp_data_independent(sigma=4.0, orders=[2, 8, 32.5]), [2 / 16, 0.5, 32.5 / 16])


def test_gnmax_rdp_data_dependent_matches_theorem_6_in_high_precision():
    orders = np.array([1.5, 2, 3.5, 8, 20, 50, 100, 300])
    log_qs = np.concatenate((-np.geomspace(1e-3, 3000, 25), [-np.inf]))
    for sigma in (1.0, 5.0, 40.0, 100.0):
        got = gnmax_rdp_data_dependent(log_q=log_qs, sigma=sigma, orders=orders)
        assert got.shape == (len(log_qs), len(orders))
        expected = [[theorem_6(lq, sigma, o) for o in orders] for lq in log_qs]
        # Below 1e-15 nats both sides are rounding noise of log(1 + tiny).
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


def test_gnmax_rdp_data_dependent_never_exceeds_data_independent():
    log_q = gnmax_log_q(simulated_votes(200, seed=3), sigma=40)
    dependent = gnmax_rdp_data_dependent(log_q=log_q, sigma=40, orders=DEFAULT_ORDERS)
    assert np.all(dependent <= gnmax_rdp_data_independent(sigma=40, orders=DEFAULT_ORDERS))
    assert np.all(dependent >= 0)


def test_gnmax_rdp_falls_back_to_data_independent_when_noise_drowns_the_gap():
    # Gap 10 under sigma 100: q ~ 0.47 fails Lemma 9's condition, so Theorem 6 is not used.
    log_q = gnmax_log_q(np.array([130, 120]), sigma=100)
    np.testing.assert_array_equal(
        gnmax_rdp_data_dependent(log_q=log_q, sigma=100, orders=DEFAULT_ORDERS),
        gnmax_rdp_data_independent(sigma=100, orders=DEFAULT_ORDERS),
    )


def test_gnmax_rdp_of_unanimous_votes_is_far_below_data_independent():
    log_q = gnmax_log_q(np.array([250] + [0] * 9), sigma=40)
    assert log_q < -8
    rdp = gnmax_rdp_data_dependent(log_q=log_q, sigma=40, orders=np.array([2.0, 4.0]))
    assert np.all(rdp < 0.02 * gnmax_rdp_data_independent(sigma=40, orders=[2.0, 4.0]))


def test_gnmax_rdp_of_a_certain_answer_is_zero():
    np.testing.assert_array_equal(gnmax_rdp_data_dependent(log_q=-np.inf, sigma=3, orders=[2, 10]), [0.0, 0.0])


def test_data_independent_always_optimal_for_few_teachers_and_large_sigma():
    assert gnmax_data_independent_always_optimal(num_teachers=5, num_classes=10, sigma=100, orders=[10.0])
    assert not gnmax_data_independent_always_optimal(num_teachers=250, num_classes=10, sigma=40, orders=[10.0])
    assert threshold_data_independent_always_optimal(num_teachers=5, threshold=3, sigma=100, orders=[10.0])


# --------------------------------------------------------------------------- threshold


def test_threshold_log_pr_answered_is_gaussian_tail_of_the_rounded_maximum():
    # max 190 against T = 200 with sigma 150: Phi((190 - 200) / 150).
    expected = math.log(0.5 * math.erfc(10 / 150 / math.sqrt(2)))
    assert threshold_log_pr_answered(np.array([190, 40, 20]), threshold=200, sigma=150) == pytest.approx(expected)
    # Only the maximum matters: a single count is a valid input, as in the authors' code.
    assert threshold_log_pr_answered([190], threshold=200, sigma=150) == pytest.approx(expected)
    # The authors round the maximum half to even: 150.5 counts as 150, 151.5 as 152.
    half = threshold_log_pr_answered(np.array([[150.5, 0.0], [150.0, 0.0], [151.5, 0], [152, 0]]), threshold=0, sigma=1)
    assert half[0] == half[1] and half[2] == half[3]


def test_threshold_rdp_is_theorem_6_on_the_less_likely_outcome_at_sqrt2_sigma():
    orders = np.array([2.0, 10.0, 40.0])
    expected = [theorem_6(math.log(0.001), math.sqrt(2) * 30, o) for o in orders]
    np.testing.assert_allclose(threshold_rdp(log_pr_answered=math.log(0.001), sigma=30, orders=orders), expected)
    np.testing.assert_allclose(threshold_rdp(log_pr_answered=math.log1p(-0.001), sigma=30, orders=orders), expected)


def test_threshold_rdp_data_independent_has_sensitivity_one():
    np.testing.assert_allclose(threshold_rdp_data_independent(sigma=10, orders=[2, 50]), [2 / 200, 50 / 200])


# --------------------------------------------------------------------------- conversion


def test_epsilon_from_rdp_classic_is_minimum_over_orders():
    rdp = np.array([0.5, 0.3, 1.0])
    orders = np.array([2.0, 5.0, 11.0])
    candidates = rdp + math.log(1e5) / (orders - 1)
    epsilon, order = epsilon_from_rdp(rdp, orders=orders, delta=1e-5)
    assert epsilon == pytest.approx(candidates.min())
    assert order == orders[np.argmin(candidates)]


def test_epsilon_from_rdp_balle2020_hand_value_and_tighter():
    epsilon, _ = epsilon_from_rdp([1.0], orders=[2.0], delta=1e-5, conversion="balle2020")
    assert epsilon == pytest.approx(1 + math.log(0.5) - (math.log(1e-5) + math.log(2)), rel=1e-14)
    rdp = 100 * DEFAULT_ORDERS / 40**2
    assert (
        epsilon_from_rdp(rdp, orders=DEFAULT_ORDERS, delta=1e-5, conversion="balle2020")[0]
        < epsilon_from_rdp(rdp, orders=DEFAULT_ORDERS, delta=1e-5)[0]
    )


# --------------------------------------------------------------------------- accountant


def test_accountant_data_independent_gnmax_equals_closed_form():
    # A simulated 250-teacher MNIST-like ensemble answering 100 queries with sigma = 40 (the 2018 paper's sigma_2).
    queries, sigma, delta = 100, 40.0, 1e-5
    accountant = PrivacyAccountant()
    accountant.add_gnmax(simulated_votes(queries, seed=4), sigma, data_independent=True)
    on_grid = np.min(queries * DEFAULT_ORDERS / sigma**2 + math.log(1 / delta) / (DEFAULT_ORDERS - 1))
    assert accountant.epsilon(delta) == pytest.approx(on_grid, rel=1e-12)
    # The continuous optimum Q/sigma^2 + 2 sqrt(Q log(1/delta)) / sigma is within the grid's resolution.
    continuous = queries / sigma**2 + 2 * math.sqrt(queries * math.log(1 / delta)) / sigma
    assert continuous <= accountant.epsilon(delta) <= continuous * (1 + 1e-3)


def test_accountant_gnmax_sums_data_dependent_curves():
    votes = simulated_votes(30, seed=5)
    accountant = PrivacyAccountant(orders=[2.0, 8.0, 32.0])
    accountant.add_gnmax(votes[:10], 20)
    accountant.add_gnmax(votes[10:], 20)
    expected = sum(np.array([theorem_6(union_bound_log_q(row, 20), 20, o) for o in (2.0, 8.0, 32.0)]) for row in votes)
    np.testing.assert_allclose(accountant.rdp, expected, rtol=1e-9)
    assert accountant.queries == 30 and accountant.expected_answered == 30


def test_accountant_confident_gnmax_charges_threshold_plus_expected_answer():
    votes = simulated_votes(20, seed=6)
    orders = np.array([3.0, 12.0, 48.0])
    accountant = PrivacyAccountant(orders=orders)
    accountant.add_confident_gnmax(votes, threshold=200, sigma_threshold=150, sigma=40)
    expected = np.zeros(3)
    answered = 0.0
    for row in votes:
        pr = 0.5 * math.erfc((200 - row.max()) / (150 * math.sqrt(2)))
        check = [theorem_6(math.log(min(pr, 1 - pr)), math.sqrt(2) * 150, o) for o in orders]
        answer = [theorem_6(union_bound_log_q(row, 40), 40, o) for o in orders]
        expected += np.array(check) + pr * np.array(answer)
        answered += pr
    np.testing.assert_allclose(accountant.rdp, expected, rtol=1e-9)
    assert accountant.expected_answered == pytest.approx(answered, rel=1e-12)
    assert accountant.queries == 20


def test_accountant_answered_mask_charges_answers_in_full():
    votes = simulated_votes(6, seed=7)
    mask = np.array([True, False, True, False, False, True])
    realised = PrivacyAccountant(orders=[5.0])
    realised.add_confident_gnmax(votes, threshold=100, sigma_threshold=50, sigma=30, answered=mask)
    check = threshold_rdp(
        log_pr_answered=threshold_log_pr_answered(votes, threshold=100, sigma=50), sigma=50, orders=[5.0]
    )
    answer = gnmax_rdp_data_dependent(log_q=gnmax_log_q(votes, sigma=30), sigma=30, orders=[5.0])
    np.testing.assert_allclose(realised.rdp, check.sum(axis=0) + answer[mask].sum(axis=0), rtol=1e-12)


def test_accountant_sums_large_batches_block_by_block(monkeypatch):
    votes = simulated_votes(10, seed=17)
    whole = PrivacyAccountant()
    whole.add_confident_gnmax(votes, threshold=200, sigma_threshold=150, sigma=40)
    whole.add_gnmax(votes, 40)
    whole.add_lnmax(votes, 0.05)
    monkeypatch.setattr(privacy, "_CHUNK", 3)
    blocks = PrivacyAccountant()
    blocks.add_confident_gnmax(votes, threshold=200, sigma_threshold=150, sigma=40)
    blocks.add_gnmax(votes, 40)
    blocks.add_lnmax(votes, 0.05)
    np.testing.assert_allclose(blocks.rdp, whole.rdp, rtol=1e-13)


def test_epsilon_grows_with_every_query():
    accountant = PrivacyAccountant()
    epsilons = []
    for row in simulated_votes(25, seed=8):
        accountant.add_confident_gnmax(row, threshold=200, sigma_threshold=150, sigma=40)
        epsilons.append(accountant.epsilon(1e-5))
    assert np.all(np.diff(epsilons) > 0)


def test_epsilon_decreases_with_sigma():
    votes = simulated_votes(100, seed=9)
    dependent, independent = [], []
    for sigma in (5, 10, 20, 40, 80, 160):
        accountant = PrivacyAccountant()
        accountant.add_gnmax(votes, sigma)
        dependent.append(accountant.epsilon(1e-5))
        accountant = PrivacyAccountant()
        accountant.add_gnmax(votes, sigma, data_independent=True)
        independent.append(accountant.epsilon(1e-5))
    assert np.all(np.diff(dependent) < 0) and np.all(np.diff(independent) < 0)
    assert np.all(np.array(dependent) <= np.array(independent) * (1 + 1e-12))


def test_accountant_spent_reports_order_and_counts():
    accountant = PrivacyAccountant()
    accountant.add_confident_gnmax(simulated_votes(10, seed=10), threshold=200, sigma_threshold=150, sigma=40)
    spent = accountant.spent(1e-5)
    assert isinstance(spent, PrivacySpent)
    assert spent.epsilon == accountant.epsilon(1e-5)
    assert spent.order in DEFAULT_ORDERS and spent.queries == 10
    assert spent.to_dict()["expected_answered"] == accountant.expected_answered


def test_accountant_pinned_to_the_authors_analysis(pinned_votes):
    # Values from the authors' research/pate_2018/core.py and pate_2017/analysis.py (run
    # separately, accumulated as rdp_cumulative.py does) on the six histograms above.
    confident = PrivacyAccountant()
    confident.add_confident_gnmax(pinned_votes, threshold=200, sigma_threshold=150, sigma=40)
    assert confident.spent(1e-5).epsilon == pytest.approx(0.2591221571258891, rel=1e-10)
    assert confident.spent(1e-5).order == 63.5
    assert confident.expected_answered == pytest.approx(2.6899538452335343, rel=1e-12)
    gnmax = PrivacyAccountant()
    gnmax.add_gnmax(pinned_votes, 40)
    assert gnmax.spent(1e-5).epsilon == pytest.approx(0.3368526320493089, rel=1e-10)
    assert gnmax.spent(1e-5).order == 52.5
    lnmax = PrivacyAccountant()
    lnmax.add_lnmax(pinned_votes, 1 / 20)
    assert lnmax.spent(1e-5).epsilon == pytest.approx(0.38726749328750804, rel=1e-10)
    assert lnmax_epsilon(pinned_votes, gamma=0.05, delta=1e-5) == pytest.approx((1.5304513799625823, 8), rel=1e-10)


# --------------------------------------------------------------------------- LNMax (2017)


def test_lnmax_log_q_matches_2017_gap_formula():
    votes = simulated_votes(30, seed=11)
    expected = [math.log(lnmax_q_2017(row, 0.05)) for row in votes]
    np.testing.assert_allclose(lnmax_log_q(votes, gamma=0.05), expected, rtol=1e-12)


def test_lnmax_log_moments_match_theorem_3():
    log_q = lnmax_log_q(simulated_votes(30, concentration=0.1, seed=12), gamma=0.1)
    moments = np.arange(1, 9)
    expected = [[theorem_3_2017(math.exp(lq), 0.2, m) for m in moments] for lq in log_q]
    np.testing.assert_allclose(lnmax_log_moments(log_q=log_q, gamma=0.1, moments=moments), expected, rtol=1e-10)


def test_lnmax_rdp_is_log_moment_per_moment():
    log_q = lnmax_log_q(simulated_votes(5, seed=13), gamma=0.05)
    moments = np.arange(1.0, 9.0)
    np.testing.assert_allclose(
        lnmax_rdp(log_q=log_q, gamma=0.05, orders=moments + 1) * moments,
        lnmax_log_moments(log_q=log_q, gamma=0.05, moments=moments),
        rtol=1e-12,
    )


def test_lnmax_data_independent_epsilon_equals_moments_closed_form():
    # 100 answers at gamma = 0.05 (each 0.1-DP), delta = 1e-5: min_l (100 min(.005 l(l+1), .1 l) + log 1e5) / l.
    epsilon, moment = lnmax_epsilon(simulated_votes(100, seed=14), gamma=0.05, delta=1e-5, data_dependent=False)
    closed = [(100 * min(0.005 * m * (m + 1), 0.1 * m) + math.log(1e5)) / m for m in range(1, 9)]
    assert epsilon == pytest.approx(min(closed), rel=1e-13)
    assert moment == 1 + int(np.argmin(closed)) == 5


def test_lnmax_data_dependent_epsilon_is_below_data_independent_for_agreeing_teachers():
    votes = simulated_votes(100, concentration=0.05, seed=15)
    dependent, _ = lnmax_epsilon(votes, gamma=0.05, delta=1e-5)
    independent, _ = lnmax_epsilon(votes, gamma=0.05, delta=1e-5, data_dependent=False)
    assert dependent < independent


def test_lnmax_epsilon_equals_accountant_at_orders_moment_plus_one():
    votes = simulated_votes(50, seed=16)
    accountant = PrivacyAccountant(orders=np.arange(2.0, 10.0))
    accountant.add_lnmax(votes, 0.05)
    assert accountant.epsilon(1e-5) == pytest.approx(lnmax_epsilon(votes, gamma=0.05, delta=1e-5)[0], rel=1e-12)


# --------------------------------------------------------------------------- bad parameters


@pytest.mark.parametrize("delta", [0.0, 1.0, -0.1, 1.5])
def test_delta_outside_unit_interval_is_rejected(delta):
    accountant = PrivacyAccountant()
    with pytest.raises(ValidationError, match="`delta`"):
        accountant.epsilon(delta)
    with pytest.raises(ValidationError, match="`delta`"):
        lnmax_epsilon(np.array([3, 1]), gamma=0.1, delta=delta)


@pytest.mark.parametrize("sigma", [0.0, -1.0, math.inf])
def test_non_positive_sigma_is_rejected(sigma):
    with pytest.raises(ValidationError, match="`sigma`"):
        gnmax_log_q(np.array([3, 1]), sigma=sigma)
    with pytest.raises(ValidationError, match="`sigma`"):
        gnmax_rdp_data_dependent(log_q=-1.0, sigma=sigma, orders=[2])
    with pytest.raises(ValidationError, match="`sigma_threshold`"):
        PrivacyAccountant().add_confident_gnmax(np.array([3, 1]), threshold=2, sigma_threshold=sigma, sigma=1)


@pytest.mark.parametrize("orders", [[1.0, 2.0], [0.5], [], [2.0, np.nan]])
def test_orders_not_above_one_are_rejected(orders):
    with pytest.raises(ValidationError, match="`orders`"):
        PrivacyAccountant(orders=orders)
    with pytest.raises(ValidationError, match="`orders`"):
        gnmax_rdp_data_independent(sigma=1, orders=orders)


def test_positive_log_q_is_rejected():
    with pytest.raises(ValidationError, match="`log_q`"):
        gnmax_rdp_data_dependent(log_q=0.1, sigma=1, orders=[2])
    with pytest.raises(ValidationError, match="`log_pr_answered`"):
        threshold_rdp(log_pr_answered=np.nan, sigma=1, orders=[2])


def test_bad_votes_are_rejected():
    with pytest.raises(ValidationError, match="n_classes >= 2"):
        gnmax_log_q(np.array([[5.0]]), sigma=1)
    with pytest.raises(ValidationError, match="finite"):
        PrivacyAccountant().add_gnmax(np.array([1.0, np.nan]), 1)
    with pytest.raises(InputTypeError, match="`votes`"):
        lnmax_log_q("votes", gamma=1)


def test_bad_conversion_inputs_are_rejected():
    with pytest.raises(ValidationError, match="`rdp`"):
        epsilon_from_rdp([1.0, 2.0], orders=[2.0], delta=1e-5)
    with pytest.raises(ValidationError, match="`conversion`"):
        epsilon_from_rdp([1.0], orders=[2.0], delta=1e-5, conversion="tight")
    with pytest.raises(ValidationError, match="`answered`"):
        PrivacyAccountant().add_confident_gnmax(
            np.array([[3, 1], [2, 2]]), threshold=2, sigma_threshold=1, sigma=1, answered=[1, 0]
        )
