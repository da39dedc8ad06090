"""rescale(): data in another range mapped linearly to [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.data import Dataset
from bastion.data.rescale import clipped_fraction, rescale
from bastion.exceptions import ValidationError


@pytest.fixture()
def counts() -> Dataset:
    x = np.array([[0.0, 8.0], [16.0, 4.0], [2.0, 20.0], [16.0, 0.0]], dtype=np.float32)
    return Dataset.from_arrays(x[:2], np.array([0, 1]), x[2:], np.array([1, 0]), name="counts")


def test_maps_low_to_zero_and_high_to_one_on_both_splits(counts):
    scaled = rescale(counts, 0, 16)
    np.testing.assert_allclose(scaled.x_train, [[0, 0.5], [1, 0.25]])
    np.testing.assert_allclose(scaled.x_test[1], [1, 0])
    assert scaled.x_train.dtype == np.float32
    np.testing.assert_array_equal(scaled.y_test, counts.y_test)


def test_values_beyond_the_bounds_are_clipped_and_counted(counts):
    assert rescale(counts, 0, 16).x_test[0, 1] == 1.0
    assert clipped_fraction(counts, 0, 16) == pytest.approx(1 / 8)


@pytest.mark.parametrize(("low", "high"), [(1, 1), (5, 1), (0, float("inf"))])
def test_bounds_must_be_finite_and_increasing(counts, low, high):
    with pytest.raises(ValidationError):
        rescale(counts, low, high)
