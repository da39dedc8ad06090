"""Output-policy wrappers: RoundedScores and LabelOnly."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bastion.exceptions import CapabilityError, ValidationError
from bastion.models import LabelOnly, NoisyScores, RoundedScores, TopK


def test_rounded_scores_round_to_the_given_decimals(breast_cancer, breast_cancer_logistic):
    x = breast_cancer.x_test[:20]
    rounded = RoundedScores(breast_cancer_logistic, 2).predict_proba(x)
    exact = breast_cancer_logistic.predict_proba(x)
    np.testing.assert_allclose(rounded, np.round(exact, 2), atol=1e-7)
    assert not np.allclose(rounded, exact, atol=1e-4)


def test_rounded_scores_keep_the_wrapped_labels(breast_cancer, breast_cancer_logistic):
    x = breast_cancer.x_test
    np.testing.assert_array_equal(
        RoundedScores(breast_cancer_logistic, 1).predict(x), breast_cancer_logistic.predict(x)
    )


def test_wrappers_count_their_queries_and_forward_them(breast_cancer, breast_cancer_logistic):
    breast_cancer_logistic.reset_queries()
    rounded = RoundedScores(breast_cancer_logistic, 3)
    labels = LabelOnly(rounded)
    labels.predict(breast_cancer.x_test[:7])
    assert (labels.queries, rounded.queries, breast_cancer_logistic.queries) == (7, 7, 7)


def test_label_only_refuses_scores_naming_the_capability(breast_cancer, breast_cancer_logistic):
    with pytest.raises(CapabilityError, match=r"'scores'"):
        LabelOnly(breast_cancer_logistic).predict_proba(breast_cancer.x_test[:2])


def test_rounded_scores_refuse_a_label_only_model(breast_cancer_logistic):
    with pytest.raises(CapabilityError, match=r"'scores'"):
        RoundedScores(LabelOnly(breast_cancer_logistic), 2)


def test_rounded_scores_reject_negative_decimals(breast_cancer_logistic):
    with pytest.raises(ValidationError, match=r"`decimals`"):
        RoundedScores(breast_cancer_logistic, -1)


def test_a_copy_of_a_wrapper_moves_no_counter_of_the_original(breast_cancer, breast_cancer_logistic):
    breast_cancer_logistic.reset_queries()
    wrapper = LabelOnly(RoundedScores(breast_cancer_logistic, 4))
    copy.copy(wrapper).predict(breast_cancer.x_test[:5])
    assert (wrapper.queries, wrapper.model.queries, breast_cancer_logistic.queries) == (0, 0, 0)


def test_top_k_keeps_the_k_largest_confidences(breast_cancer, digits, digits_mlp):
    x = digits.x_test[:10]
    exact = digits_mlp.predict_proba(x)
    kept = TopK(digits_mlp, 3).predict_proba(x)
    assert ((kept > 0).sum(axis=1) <= 3).all()
    top = np.sort(exact, axis=1)[:, -3:]
    np.testing.assert_allclose(np.sort(kept, axis=1)[:, -3:], top, atol=1e-7)


def test_top_k_refuses_k_above_the_classes(digits_mlp):
    with pytest.raises(ValidationError, match=r"`k`"):
        TopK(digits_mlp, 11)


def test_noisy_scores_answer_the_same_input_the_same_way(digits, digits_mlp):
    noisy = NoisyScores(digits_mlp, 0.05, seed=1)
    x = digits.x_test[:5]
    first, second = noisy.predict_proba(x), noisy.predict_proba(x[::-1].copy())[::-1]
    np.testing.assert_allclose(first, second)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, atol=1e-5)
    assert not np.allclose(first, digits_mlp.predict_proba(x), atol=1e-3)
    np.testing.assert_array_equal(noisy.predict(x), digits_mlp.predict(x))
