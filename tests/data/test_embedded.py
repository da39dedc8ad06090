"""The datasets that ship with scikit-learn: shapes, ranges, splits, seeds."""

from __future__ import annotations

import numpy as np
import pytest

import bastion
from bastion.data import breast_cancer
from bastion.exceptions import InputTypeError, ValidationError


def test_digits_are_one_channel_8x8_images_in_unit_range(digits):
    assert digits.input_shape == (1, 8, 8)
    assert digits.x_train.shape[1:] == (1, 8, 8) and digits.x_train.dtype == np.float32
    assert digits.x_train.min() >= 0 and digits.x_train.max() <= 1
    assert digits.n_classes == 10 and digits.classes == tuple(str(c) for c in range(10))


def test_digits_split_keeps_every_sample_once(digits):
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert len(digits.x_test) == 450


def test_digits_split_is_stratified(digits):
    train_share = np.bincount(digits.y_train) / len(digits.y_train)
    test_share = np.bincount(digits.y_test) / len(digits.y_test)
    assert np.abs(train_share - test_share).max() < 0.01


def test_same_seed_same_split_other_seed_other_split(digits):
    again = bastion.load("digits", seed=0)
    other = bastion.load("digits", seed=1)
    np.testing.assert_array_equal(again.x_test, digits.x_test)
    assert not np.array_equal(other.y_test, digits.y_test)


def test_test_size_sets_the_held_out_fraction():
    data = bastion.load("digits", test_size=0.5)
    assert abs(len(data.x_test) - 1797 / 2) <= 1


def test_breast_cancer_is_scaled_on_the_training_split_only(breast_cancer):
    assert breast_cancer.input_shape == (30,)
    assert breast_cancer.classes == ("malignant", "benign")
    # Min-max on the training split: every train feature spans exactly [0, 1].
    np.testing.assert_allclose(breast_cancer.x_train.min(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(breast_cancer.x_train.max(axis=0), 1, atol=1e-6)
    assert breast_cancer.x_test.min() >= 0 and breast_cancer.x_test.max() <= 1


def test_breast_cancer_labels_are_int64():
    data = breast_cancer(seed=3)
    assert data.y_train.dtype == np.int64 and set(np.unique(data.y_train)) == {0, 1}
    assert data.n_features == 30


def test_direct_loader_refuses_a_negative_seed():
    with pytest.raises(ValidationError, match="`seed` must be an int"):
        breast_cancer(seed=-1)


def test_test_size_leaving_a_split_without_every_class_is_refused():
    with pytest.raises(ValidationError, match=r"`test_size` must leave at least 10 samples.*got 0.999"):
        bastion.load("digits", test_size=0.999)


def test_load_refuses_a_non_path_by_name():
    with pytest.raises(InputTypeError, match="`name_or_path` must be a dataset name"):
        bastion.load(None)
