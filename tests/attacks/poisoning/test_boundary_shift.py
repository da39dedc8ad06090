from __future__ import annotations

import numpy as np
import pytest

from bastion.attacks.poisoning import BoundaryShift
from bastion.exceptions import ValidationError


@pytest.fixture(scope="module")
def shifted(digits_small):
    return BoundaryShift(0.1, source_class=1, target_class=2, epochs=3).poison(digits_small)


def test_injected_rows_are_appended_labelled_target_and_masked(digits_small, shifted):
    n = len(digits_small.y_train)
    assert len(shifted.y_train) == n + round(0.1 * n)
    np.testing.assert_array_equal(shifted.x_train[:n], digits_small.x_train)
    np.testing.assert_array_equal(shifted.poison_mask, np.arange(len(shifted.y_train)) >= n)
    np.testing.assert_array_equal(shifted.y_train[n:], 2)


def test_injected_points_lie_between_source_and_target_samples(digits_small, shifted):
    injected = shifted.x_train[shifted.poison_mask].reshape(-1, 64)
    x = digits_small.x_train.reshape(-1, 64)
    y = digits_small.y_train
    source_mean, target_mean = x[y == 1].mean(0), x[y == 2].mean(0)
    to_source = np.linalg.norm(injected - source_mean, axis=1).mean()
    to_target = np.linalg.norm(injected - target_mean, axis=1).mean()
    assert to_source < to_target
    assert injected.min() >= 0 and injected.max() <= 1


def test_same_source_and_target_is_refused():
    with pytest.raises(ValidationError, match="must differ"):
        BoundaryShift(0.1, source_class=1, target_class=1)


def test_missing_source_class_is_refused(digits_small):
    with pytest.raises(ValidationError, match="`source_class`"):
        BoundaryShift(0.1, source_class=9, target_class=1).poison(digits_small)
