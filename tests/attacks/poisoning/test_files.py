from __future__ import annotations

import numpy as np
import pytest

import bastion
from bastion.attacks.poisoning import Backdoor, LabelFlip, PoisonedDataset, load_dataset, save_dataset
from bastion.exceptions import ValidationError


def test_backdoored_dataset_round_trips_with_its_trigger(tmp_path, digits_small):
    poisoned = Backdoor(0.05, target_class=2, trigger="blend").poison(digits_small)
    path = save_dataset(poisoned, tmp_path / "p")
    assert path.suffix == ".npz"
    loaded = load_dataset(path)
    assert isinstance(loaded, PoisonedDataset)
    np.testing.assert_array_equal(loaded.poison_mask, poisoned.poison_mask)
    np.testing.assert_array_equal(loaded.x_train, poisoned.x_train)
    assert loaded.target_class == 2 and loaded.attack == poisoned.attack
    np.testing.assert_array_equal(
        loaded.apply_trigger(digits_small.x_test[:3]), poisoned.apply_trigger(digits_small.x_test[:3])
    )


def test_poisoned_npz_is_a_plain_dataset_for_bastion_load(tmp_path, digits_small):
    path = save_dataset(LabelFlip(0.1).poison(digits_small), tmp_path / "flipped.npz")
    plain = bastion.load(path)
    assert type(plain) is bastion.Dataset and len(plain.y_train) == len(digits_small.y_train)
    loaded = load_dataset(path)
    assert loaded.trigger is None and loaded.target_class is None


def test_plain_npz_and_names_load_as_datasets(tmp_path, digits_small):
    path = save_dataset(digits_small, tmp_path / "plain.npz")
    assert type(load_dataset(path)) is bastion.Dataset
    assert type(load_dataset("breast_cancer")) is bastion.Dataset


def test_mask_of_the_wrong_length_is_refused(tmp_path, digits_small):
    path = save_dataset(LabelFlip(0.1).poison(digits_small), tmp_path / "bad.npz", poison_mask=np.ones(3, bool))
    with pytest.raises(ValidationError, match="`poison_mask`"):
        load_dataset(path)
