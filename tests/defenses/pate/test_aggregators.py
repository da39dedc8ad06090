"""Noisy-max aggregators: plurality in the no-noise limit, the right noise law, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from bastion.defenses.pate import (
    UNANSWERED,
    ConfidentGNMax,
    GNMax,
    LNMax,
    PrivacyAccountant,
    make_aggregator,
)
from bastion.exceptions import InputTypeError, ValidationError


def random_votes(n: int = 500, n_teachers: int = 50, n_classes: int = 10, seed: int = 0) -> np.ndarray:
    """Histograms of ``n_teachers`` votes over ``n_classes`` with a random degree of consensus."""
    rng = np.random.default_rng(seed)
    votes = np.zeros((n, n_classes), dtype=np.int64)
    for i, concentration in enumerate(rng.uniform(0.1, 5.0, size=n)):
        votes[i] = rng.multinomial(n_teachers, rng.dirichlet(np.full(n_classes, concentration)))
    return votes


def two_class_votes(n: int, lead: int) -> np.ndarray:
    """``n`` identical queries where class 0 leads class 1 by ``lead`` votes."""
    return np.tile(np.array([[10 + lead, 10]]), (n, 1))


@pytest.mark.parametrize(
    "aggregator", [GNMax(1e-6), LNMax(1e6), ConfidentGNMax(threshold=0, sigma_threshold=1e-6, sigma=1e-6)]
)
def test_vanishing_noise_gives_the_plurality_vote(aggregator):
    votes = random_votes() * 1000 + np.arange(10)  # distinct counts: no ties
    labels = aggregator.aggregate(votes, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(labels, votes.argmax(axis=1))


def test_gnmax_flips_the_label_with_the_gaussian_probability():
    # Class 1 wins when N(0, 2 sigma^2) exceeds the lead of class 0.
    sigma, lead = 2.0, 2
    labels = GNMax(sigma).aggregate(two_class_votes(40_000, lead), generator=np.random.default_rng(1))
    expected = norm.sf(lead / (sigma * np.sqrt(2)))
    assert abs(np.mean(labels == 1) - expected) < 0.01


def test_lnmax_flips_the_label_with_the_laplace_probability():
    # The difference of two Lap(1/gamma) exceeds t with probability (2 + gamma t) / (4 e^{gamma t}).
    gamma, lead = 0.5, 2
    labels = LNMax(gamma).aggregate(two_class_votes(40_000, lead), generator=np.random.default_rng(2))
    expected = (2 + gamma * lead) / (4 * np.exp(gamma * lead))
    assert abs(np.mean(labels == 1) - expected) < 0.01


def test_confident_gnmax_answers_with_the_threshold_probability():
    threshold, sigma_threshold = 25.0, 4.0
    votes = np.tile(np.array([[22, 8]]), (40_000, 1))
    labels = ConfidentGNMax(threshold=threshold, sigma_threshold=sigma_threshold, sigma=1.0).aggregate(
        votes, generator=np.random.default_rng(3)
    )
    expected = norm.sf((threshold - 22) / sigma_threshold)
    assert abs(np.mean(labels != UNANSWERED) - expected) < 0.01


def test_confident_gnmax_answers_exactly_the_confident_queries_without_noise():
    votes = random_votes()
    labels = ConfidentGNMax(threshold=30, sigma_threshold=1e-6, sigma=1e-6).aggregate(
        votes, generator=np.random.default_rng(0)
    )
    np.testing.assert_array_equal(labels != UNANSWERED, votes.max(axis=1) >= 30)


def test_confident_gnmax_answers_fewer_queries_at_a_higher_threshold():
    votes = random_votes()
    answered = [
        np.sum(
            ConfidentGNMax(threshold=t, sigma_threshold=5, sigma=2).aggregate(votes, generator=np.random.default_rng(0))
            != UNANSWERED
        )
        for t in (10, 25, 40)
    ]
    assert answered[0] > answered[1] > answered[2]


def test_gnmax_and_lnmax_always_answer():
    votes = random_votes()
    for aggregator in (GNMax(20), LNMax(0.01)):
        labels = aggregator.aggregate(votes, generator=np.random.default_rng(0))
        assert labels.dtype == np.int64 and labels.min() >= 0 and labels.max() < 10


def test_same_generator_seed_gives_the_same_labels():
    votes = random_votes()
    aggregator = ConfidentGNMax(threshold=20, sigma_threshold=8, sigma=4)
    first = aggregator.aggregate(votes, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(first, aggregator.aggregate(votes, generator=np.random.default_rng(5)))
    assert not np.array_equal(first, aggregator.aggregate(votes, generator=np.random.default_rng(6)))


def test_gnmax_account_charges_every_query():
    accountant = PrivacyAccountant()
    votes = random_votes(n=20)
    GNMax(5).account(accountant, votes, votes.argmax(axis=1))
    assert accountant.queries == 20 and accountant.epsilon(1e-5) > 0


def test_confident_gnmax_account_charges_the_answer_only_on_answered_queries():
    votes = random_votes(n=50)
    aggregator = ConfidentGNMax(threshold=30, sigma_threshold=10, sigma=3)
    none, every = PrivacyAccountant(), PrivacyAccountant()
    aggregator.account(none, votes, np.full(50, UNANSWERED))
    aggregator.account(every, votes, votes.argmax(axis=1))
    assert none.queries == every.queries == 50
    assert none.epsilon(1e-5) < every.epsilon(1e-5)


def test_confident_gnmax_expected_account_ignores_which_queries_were_answered():
    votes = random_votes(n=50)
    aggregator = ConfidentGNMax(threshold=30, sigma_threshold=10, sigma=3)
    none, every, direct = PrivacyAccountant(), PrivacyAccountant(), PrivacyAccountant()
    aggregator.account(none, votes, np.full(50, UNANSWERED), expected=True)
    aggregator.account(every, votes, votes.argmax(axis=1), expected=True)
    direct.add_confident_gnmax(votes, threshold=30, sigma_threshold=10, sigma=3)
    np.testing.assert_array_equal(none.rdp, every.rdp)
    np.testing.assert_array_equal(every.rdp, direct.rdp)


def test_data_independent_accounting_costs_more_under_consensus():
    votes = np.tile(np.array([[48, 1, 1]]), (100, 1))
    dependent, independent = PrivacyAccountant(), PrivacyAccountant()
    GNMax(10).account(dependent, votes, votes.argmax(axis=1))
    GNMax(10).account(independent, votes, votes.argmax(axis=1), data_independent=True)
    assert dependent.epsilon(1e-5) < independent.epsilon(1e-5)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: GNMax(0), "sigma"),
        (lambda: GNMax(-1.0), "sigma"),
        (lambda: LNMax(0), "gamma"),
        (lambda: ConfidentGNMax(threshold=-1, sigma_threshold=10, sigma=5), "threshold"),
        (lambda: ConfidentGNMax(threshold=10, sigma_threshold=0, sigma=5), "sigma_threshold"),
        (lambda: ConfidentGNMax(threshold=10, sigma_threshold=10, sigma=0), "sigma"),
    ],
)
def test_bad_parameters_raise_an_error_naming_them(build, argument):
    with pytest.raises(ValidationError, match=f"`{argument}`"):
        build()


@pytest.mark.parametrize("votes", [np.ones(10), np.ones((5, 1)), -np.ones((5, 3)), np.full((2, 3), np.nan)])
def test_malformed_votes_raise_a_validation_error(votes):
    with pytest.raises(ValidationError, match="`votes`"):
        GNMax(1).aggregate(votes, generator=np.random.default_rng(0))


def test_a_missing_generator_raises_a_type_error():
    with pytest.raises(InputTypeError, match="generator"):
        GNMax(1).aggregate(random_votes(), generator=0)


def test_make_aggregator_builds_each_aggregator_by_name():
    assert isinstance(make_aggregator("lnmax", gamma=0.1), LNMax)
    assert isinstance(make_aggregator("gnmax", sigma=3), GNMax)
    built = make_aggregator("confident-gnmax", threshold=40, sigma_threshold=15, sigma=5)
    assert (built.threshold, built.sigma_threshold, built.sigma) == (40, 15, 5)


def test_make_aggregator_refuses_an_unknown_name():
    with pytest.raises(ValidationError, match="`aggregator` must be one of"):
        make_aggregator("median")
