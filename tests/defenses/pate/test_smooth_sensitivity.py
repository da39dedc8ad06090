"""Tests of the smooth sensitivity of PATE's data-dependent cost, against brute force and closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import chi2, norm

from bastion.defenses.pate.privacy import (
    PrivacyAccountant,
    gnmax_log_q,
    gnmax_rdp_data_dependent,
    threshold_log_pr_answered,
    threshold_rdp,
)
from bastion.defenses.pate.smooth_sensitivity import (
    SmoothSensitivityAnalysis,
    gnmax_local_sensitivity,
    gnmax_log_q0,
    gnmax_sensitivity_conditions_hold,
    gnss_rdp,
    smooth_sensitivity,
    smooth_sensitivity_analysis,
    smooth_sensitivity_release_params,
    threshold_local_sensitivity,
)
from bastion.exceptions import ValidationError


def histograms(teachers, classes):
    """Every vote histogram of ``teachers`` votes over ``classes`` classes."""
    return np.array([h for h in itertools.product(range(teachers + 1), repeat=classes) if sum(h) == teachers], float)


def simulated_votes(n, *, teachers=250, classes=10, concentration=0.3, seed=0):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.full(classes, concentration), size=n)
    return np.stack([rng.multinomial(teachers, p) for p in probabilities]).astype(np.float64)


def test_log_q0_is_where_theorem_6_starts_to_beat_the_data_independent_bound():
    sigma, order = 2.0, 3.0
    log_q0 = gnmax_log_q0(sigma=sigma, order=order)
    below = gnmax_rdp_data_dependent(log_q=log_q0 - 0.5, sigma=sigma, orders=[order])
    above = gnmax_rdp_data_dependent(log_q=log_q0 + 0.5, sigma=sigma, orders=[order])
    assert below[0] < order / sigma**2
    assert above[0] == pytest.approx(order / sigma**2)


def test_gnmax_local_sensitivity_bounds_brute_force_over_all_histograms():
    # 40 teachers, 3 classes: the local sensitivity at distance d must cover every histogram d
    # teachers away (a teacher changing its vote moves two counts by one).
    teachers, sigma, order = 40, 5.0, 3.0
    assert gnmax_sensitivity_conditions_hold(sigma=sigma, num_classes=3, order=order)
    every = histograms(teachers, 3)
    at_zero = np.array([gnmax_local_sensitivity(h, num_teachers=teachers, sigma=sigma, order=order)[0] for h in every])
    assert at_zero.max() > 0
    for votes in every[::29]:
        bound = gnmax_local_sensitivity(votes, num_teachers=teachers, sigma=sigma, order=order)
        distance = (np.abs(every - votes).sum(axis=1) // 2).astype(int)
        brute = np.array([at_zero[distance <= d].max() for d in range(teachers)])
        assert bound[0] == pytest.approx(brute[0], rel=1e-12)
        assert np.all(bound >= brute - 1e-12)


def test_conditions_fail_where_brute_force_beats_the_fast_bound():
    # Found by the brute force above: at these settings the fast bound misses larger
    # sensitivities (C6 fails, or the bound jumps at q0 for sigma = 1); the authors' symbolic
    # check agrees on C5-C6.
    assert not gnmax_sensitivity_conditions_hold(sigma=3.0, num_classes=3, order=5.0)
    assert not gnmax_sensitivity_conditions_hold(sigma=1.0, num_classes=3, order=2.0)
    assert not gnmax_sensitivity_conditions_hold(sigma=40.0, num_classes=10, order=50.0)
    assert gnmax_sensitivity_conditions_hold(sigma=40.0, num_classes=10, order=30.0)
    with pytest.raises(ValidationError, match="C5-C6"):
        smooth_sensitivity_analysis(simulated_votes(5), sigma=40, delta=1e-5, order=50.0)


def test_brute_force_catches_an_unsound_setting():
    teachers, sigma, order = 20, 3.0, 5.0
    every = histograms(teachers, 3)
    at_zero = np.array([gnmax_local_sensitivity(h, num_teachers=teachers, sigma=sigma, order=order)[0] for h in every])
    votes = every[0]
    bound = gnmax_local_sensitivity(votes, num_teachers=teachers, sigma=sigma, order=order)
    distance = (np.abs(every - votes).sum(axis=1) // 2).astype(int)
    assert np.any(bound < np.array([at_zero[distance <= d].max() for d in range(teachers)]) - 1e-9)


def test_threshold_local_sensitivity_matches_brute_force_smooth_sensitivity():
    teachers, threshold, sigma, order = 40, 25.0, 4.0, 6.0
    maxima = np.arange(teachers + 1, dtype=np.float64)
    votes = np.stack([maxima, teachers - maxima], axis=1)
    costs = threshold_rdp(
        log_pr_answered=threshold_log_pr_answered(votes, threshold=threshold, sigma=sigma), sigma=sigma, orders=[order]
    )[:, 0]
    steps = np.abs(np.diff(costs))
    per_max = np.maximum(np.concatenate(([0.0], steps)), np.concatenate((steps, [0.0])))
    current = 31
    bound = threshold_local_sensitivity(
        np.array([current, teachers - current]), num_teachers=teachers, threshold=threshold, sigma=sigma, order=order
    )
    brute = np.array([per_max[max(current - d, 0) : current + d + 1].max() for d in range(teachers)])
    for beta in (0.0, 0.05, 0.3):
        assert smooth_sensitivity(bound, beta=beta) == pytest.approx(smooth_sensitivity(brute, beta=beta), rel=1e-12)


def test_smooth_sensitivity_is_discounted_maximum():
    assert smooth_sensitivity([1.0, 3.0, 0.5], beta=1.0) == pytest.approx(3 * math.exp(-1))
    assert smooth_sensitivity([1.0, 3.0, 0.5], beta=0.0) == 3.0


def test_gnss_rdp_matches_theorem_23():
    beta, sigma, order = 0.01, 3.0, 20.0
    expected = order * math.exp(2 * beta) / sigma**2 + (beta * order - 0.5 * math.log(1 - 2 * beta * order)) / (
        order - 1
    )
    assert gnss_rdp(beta=beta, sigma=sigma, order=order) == pytest.approx(expected, rel=1e-14)
    # Without smoothing, GNSS is the Gaussian mechanism of sensitivity 1.
    assert gnss_rdp(beta=0.0, sigma=sigma, order=order) == pytest.approx(order / sigma**2)


def test_release_params_follow_nissim_et_al():
    alpha, beta = smooth_sensitivity_release_params(epsilon=1.0, delta=1e-5)
    a = norm.ppf(1 - 0.5e-5)
    assert alpha == pytest.approx(math.sqrt(a**2 + 0.5) - a, rel=1e-9)
    assert beta == pytest.approx(1.0 / (2 * chi2.ppf(1 - 0.5e-5, df=1)), rel=1e-9)


def test_analysis_epsilon_agrees_with_accountant():
    votes = simulated_votes(60, seed=1)
    analysis = smooth_sensitivity_analysis(votes, sigma=40, delta=1e-5, threshold=200, sigma_threshold=150)
    accountant = PrivacyAccountant()
    accountant.add_confident_gnmax(votes, threshold=200, sigma_threshold=150, sigma=40)
    assert analysis.epsilon == pytest.approx(accountant.epsilon(1e-5), rel=1e-12)
    assert analysis.expected_answered == pytest.approx(accountant.expected_answered, rel=1e-12)
    assert analysis.smooth_sensitivity > 0 and analysis.beta * analysis.order < 0.5
    assert analysis.epsilon_expected == pytest.approx(analysis.epsilon + analysis.gnss_rdp)
    assert analysis.epsilon_std == pytest.approx(analysis.smooth_sensitivity * analysis.sigma_ss)


def test_analysis_pinned_to_the_authors_smooth_sensitivity_table(pinned_votes):
    # The authors' smooth_sensitivity_table.py (run separately) on six 250-teacher histograms,
    # Confident-GNMax T=200, sigma_1=150, sigma_2=40 at order 20 (where C5-C6 hold).
    analysis = smooth_sensitivity_analysis(
        pinned_votes, sigma=40, delta=1e-5, threshold=200, sigma_threshold=150, order=20
    )
    assert analysis.beta == pytest.approx(0.015, rel=1e-12)
    assert analysis.smooth_sensitivity == pytest.approx(0.000758077277643116, rel=1e-10)
    assert analysis.sigma_ss == pytest.approx(30.068732182048308, rel=1e-10)
    assert analysis.epsilon == pytest.approx(0.6172313843351068, rel=1e-12)
    assert analysis.epsilon_expected == pytest.approx(0.6799281946507528, rel=1e-12)


def test_analysis_can_skip_orders_where_the_bound_is_unsound():
    # For these votes the unrestricted optimum (order 63.5, where the authors' script would stop
    # on C6) is unsound: refused by default, skipped with sound_orders_only.
    votes = np.array([[231, 4, 3, 2, 2, 2, 2, 2, 1, 1], [120, 98, 10, 5, 5, 4, 3, 2, 2, 1], [250] + [0] * 9])
    accountant = PrivacyAccountant()
    accountant.add_confident_gnmax(votes, threshold=200, sigma_threshold=150, sigma=40)
    assert not gnmax_sensitivity_conditions_hold(sigma=40, num_classes=10, order=accountant.spent(1e-5).order)
    with pytest.raises(ValidationError, match="C5-C6"):
        smooth_sensitivity_analysis(votes, sigma=40, delta=1e-5, threshold=200, sigma_threshold=150)
    analysis = smooth_sensitivity_analysis(
        votes, sigma=40, delta=1e-5, threshold=200, sigma_threshold=150, sound_orders_only=True
    )
    assert analysis.smooth_sensitivity == 0 or gnmax_sensitivity_conditions_hold(
        sigma=40, num_classes=10, order=analysis.order
    )
    assert analysis.epsilon >= accountant.epsilon(1e-5)


def test_analysis_chooses_beta_and_sigma_minimising_the_authors_cost():
    votes = simulated_votes(30, seed=2)
    best = smooth_sensitivity_analysis(votes, sigma=40, delta=1e-5)
    fixed = smooth_sensitivity_analysis(votes, sigma=40, delta=1e-5, order=best.order, betas=[0.45])

    def cost(a: SmoothSensitivityAnalysis) -> float:
        return a.rdp + a.gnss_rdp + 2 * a.smooth_sensitivity * a.sigma_ss

    assert cost(best) <= cost(fixed)
    assert fixed.beta == pytest.approx(0.45 / best.order)
    assert fixed.sigma_ss == pytest.approx(
        (best.order * math.exp(2 * fixed.beta) / fixed.smooth_sensitivity) ** (1 / 3)
    )


def test_release_is_seeded_noise_around_the_expected_epsilon():
    analysis = smooth_sensitivity_analysis(simulated_votes(30, seed=3), sigma=40, delta=1e-5)
    assert analysis.release(seed=7) == analysis.release(seed=7)
    assert analysis.release(seed=7) != analysis.release(seed=8)
    draws = np.array([analysis.release(seed=s) for s in range(400)])
    assert abs(draws.mean() - analysis.epsilon_expected) < 4 * analysis.epsilon_std / math.sqrt(400)


def test_analysis_without_data_dependence_releases_exactly():
    # Five teachers under sigma = 100: the data-independent bound always wins, nothing to smooth.
    votes = simulated_votes(10, teachers=5, seed=4)
    analysis = smooth_sensitivity_analysis(votes, sigma=100, delta=1e-5, num_teachers=5)
    assert analysis.smooth_sensitivity == 0 and analysis.gnss_rdp == 0 and analysis.epsilon_std == 0
    assert analysis.release(seed=0) == analysis.epsilon_expected == analysis.epsilon
    assert analysis.to_dict()["sigma_ss"] == math.inf


def test_local_sensitivity_is_finite_for_very_confident_votes():
    # Votes so lopsided that q underflows a float: computed in log space, still finite.
    bound = gnmax_local_sensitivity(np.array([1000.0, 0.0]), num_teachers=1000, sigma=10, order=5)
    assert gnmax_log_q(np.array([1000.0, 0.0]), sigma=10) < -1000
    assert np.all(np.isfinite(bound)) and np.all(bound >= 0)


def test_bad_smooth_sensitivity_parameters_are_rejected():
    with pytest.raises(ValidationError, match="`order`"):
        gnss_rdp(beta=0.1, sigma=1, order=6)
    with pytest.raises(ValidationError, match="`threshold` and `sigma_threshold`"):
        smooth_sensitivity_analysis(simulated_votes(3), sigma=40, delta=1e-5, threshold=200)
    with pytest.raises(ValidationError, match="`betas`"):
        smooth_sensitivity_analysis(simulated_votes(3), sigma=40, delta=1e-5, betas=[0.6])
    with pytest.raises(ValidationError, match="`order`"):
        gnmax_log_q0(sigma=1, order=1)
    with pytest.raises(ValidationError, match="rounded maximum"):
        threshold_local_sensitivity(np.array([300, 0]), num_teachers=250, threshold=200, sigma=150, order=5)
