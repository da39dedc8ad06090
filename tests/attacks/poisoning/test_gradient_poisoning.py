from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import SVC

import bastion
from bastion.attacks.poisoning import GradientPoisoning, LabelFlip, evaluate_poisoning
from bastion.exceptions import ValidationError
from bastion.models import SklearnModel


@pytest.fixture(scope="module")
def three_vs_eight(digits):
    """digits 3 (label 0) against 8 (label 1), 100 training images (Biggio et al.'s training size)."""
    train = np.flatnonzero(np.isin(digits.y_train, [3, 8]))[:100]
    test = np.isin(digits.y_test, [3, 8])
    return bastion.Dataset.from_arrays(
        digits.x_train[train],
        (digits.y_train[train] == 8).astype(int),
        digits.x_test[test],
        (digits.y_test[test] == 8).astype(int),
        name="digits 3 vs 8",
    )


def linear_svm(dataset):
    x = dataset.x_train.reshape(len(dataset.x_train), -1)
    return SklearnModel(SVC(kernel="linear", C=1.0).fit(x, dataset.y_train), input_shape=dataset.input_shape)


def test_optimised_points_raise_the_error_more_than_random_flips(three_vs_eight):
    poisoned = GradientPoisoning(5, steps=100).poison(three_vs_eight)
    error = 1 - evaluate_poisoning(poisoned, linear_svm).test_accuracy
    flips = [
        1 - evaluate_poisoning(LabelFlip(0.05, seed=seed).poison(three_vs_eight), linear_svm).test_accuracy
        for seed in range(3)
    ]
    assert error > 2 * np.mean(flips)


def test_points_are_appended_with_flipped_labels_inside_the_data_range(three_vs_eight):
    poisoned = GradientPoisoning(3, steps=2).poison(three_vs_eight)
    n = len(three_vs_eight.y_train)
    np.testing.assert_array_equal(poisoned.poison_mask, np.arange(n + 3) >= n)
    assert poisoned.x_train[n:].min() >= 0 and poisoned.x_train[n:].max() <= 1


def test_multiclass_data_is_refused(digits_small):
    with pytest.raises(ValidationError, match="binary"):
        GradientPoisoning(2).poison(digits_small)


def test_unknown_learner_is_refused():
    with pytest.raises(ValidationError, match="`learner`"):
        GradientPoisoning(2, learner="tree")
