from __future__ import annotations

import numpy as np
import pytest

from bastion.attacks.poisoning import LabelFlip, PoisonedDataset
from bastion.exceptions import InputTypeError, ValidationError


def test_random_flip_mask_is_exactly_the_changed_labels(digits_small):
    poisoned = LabelFlip(0.2, seed=3).poison(digits_small)
    changed = poisoned.y_train != digits_small.y_train
    assert isinstance(poisoned, PoisonedDataset)
    np.testing.assert_array_equal(poisoned.poison_mask, changed)
    assert poisoned.n_poison == round(0.2 * len(digits_small.y_train))
    np.testing.assert_array_equal(poisoned.x_train, digits_small.x_train)
    np.testing.assert_array_equal(poisoned.y_test, digits_small.y_test)


def test_random_flip_is_seeded(digits_small):
    first = LabelFlip(0.1, seed=1).poison(digits_small)
    np.testing.assert_array_equal(first.y_train, LabelFlip(0.1, seed=1).poison(digits_small).y_train)
    assert not np.array_equal(first.y_train, LabelFlip(0.1, seed=2).poison(digits_small).y_train)


def test_targeted_flip_moves_source_rows_to_target(digits_small):
    poisoned = LabelFlip(0.05, strategy="targeted", source_class=1, target_class=3).poison(digits_small)
    mask = poisoned.poison_mask
    assert np.all(digits_small.y_train[mask] == 1) and np.all(poisoned.y_train[mask] == 3)
    np.testing.assert_array_equal(mask, poisoned.y_train != digits_small.y_train)
    assert poisoned.target_class == 3


def test_boundary_flip_picks_rows_and_gives_them_another_label(digits_small):
    poisoned = LabelFlip(0.1, strategy="boundary", epochs=3).poison(digits_small)
    mask = poisoned.poison_mask
    np.testing.assert_array_equal(mask, poisoned.y_train != digits_small.y_train)
    assert mask.sum() == round(0.1 * len(mask))


@pytest.mark.parametrize("rate", [0, 1, 1.5, -0.1])
def test_rate_outside_open_unit_interval_is_refused(rate):
    with pytest.raises(ValidationError, match="`rate`"):
        LabelFlip(rate)


def test_unknown_strategy_is_refused():
    with pytest.raises(ValidationError, match="`strategy`"):
        LabelFlip(0.1, strategy="nearest")


def test_targeted_without_target_is_refused():
    with pytest.raises(ValidationError, match="`target_class`"):
        LabelFlip(0.1, strategy="targeted")


def test_missing_class_is_refused(digits_small):
    with pytest.raises(ValidationError, match=r"`target_class`.*0\.\.3, got 7"):
        LabelFlip(0.1, target_class=7).poison(digits_small)


def test_empty_class_is_refused(with_empty_class):
    with pytest.raises(ValidationError, match="`source_class` is class 4, which has no training samples"):
        LabelFlip(0.01, strategy="targeted", source_class=4, target_class=0).poison(with_empty_class)


def test_rate_beyond_the_source_class_is_refused(digits_small):
    with pytest.raises(ValidationError, match="lower the rate"):
        LabelFlip(0.5, source_class=0).poison(digits_small)


def test_non_dataset_is_refused():
    with pytest.raises(InputTypeError, match="`dataset`"):
        LabelFlip(0.1).poison(np.zeros((3, 4)))
