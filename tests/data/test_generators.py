"""Synthetic classification data: sizes, scaling, seeds, validation."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.data import synthetic_classification
from bastion.exceptions import ValidationError


def small(**kwargs):
    return synthetic_classification(n_samples=400, n_features=8, n_informative=4, n_classes=3, **kwargs)


def test_sizes_and_classes_follow_the_arguments():
    data = small(test_size=0.25)
    assert len(data.x_train) == 300 and len(data.x_test) == 100
    assert data.input_shape == (8,) and data.n_classes == 3


def test_training_features_are_scaled_to_unit_range():
    data = small()
    np.testing.assert_allclose(data.x_train.min(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(data.x_train.max(axis=0), 1, atol=1e-6)
    assert data.x_test.min() >= 0 and data.x_test.max() <= 1


def test_same_seed_same_data_other_seed_other_data():
    np.testing.assert_array_equal(small(seed=1).x_train, small(seed=1).x_train)
    assert not np.array_equal(small(seed=1).x_train, small(seed=2).x_train)


def test_classes_are_learnable():
    from sklearn.linear_model import LogisticRegression

    data = small(seed=0)
    accuracy = LogisticRegression(max_iter=500).fit(data.x_train, data.y_train).score(data.x_test, data.y_test)
    assert accuracy > 0.6


def test_more_informative_features_than_features_is_refused():
    with pytest.raises(ValidationError, match="`n_informative` must be an int in \\[1, 4\\], got 5"):
        synthetic_classification(n_samples=100, n_features=4, n_informative=5)


def test_too_few_samples_for_the_classes_is_refused():
    with pytest.raises(ValidationError, match=r"`n_samples`"):
        synthetic_classification(n_samples=10, n_classes=10)


def test_non_positive_class_separation_is_refused():
    with pytest.raises(ValidationError, match=r"`class_sep` must be a float in \(0, inf\), got -1"):
        synthetic_classification(n_samples=100, n_features=4, n_informative=2, n_classes=2, class_sep=-1)


def test_too_few_informative_features_for_the_clusters_is_refused():
    with pytest.raises(ValidationError, match="`n_informative` must be at least 5 for 10 classes"):
        synthetic_classification(n_samples=200, n_features=8, n_informative=2, n_classes=10)


def test_test_size_leaving_a_split_without_every_class_is_refused():
    with pytest.raises(ValidationError, match="`test_size` must leave at least 10 samples"):
        synthetic_classification(n_samples=100, n_features=8, n_informative=5, n_classes=10, test_size=0.05)
