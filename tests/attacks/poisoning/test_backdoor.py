from __future__ import annotations

import numpy as np
import pytest

from bastion.attacks.poisoning import Backdoor, evaluate_poisoning
from bastion.exceptions import InputTypeError, ValidationError

from .conftest import cnn_train_fn


def test_patch_trigger_stamps_the_corner_at_the_data_maximum():
    trigger = Backdoor(0.1, target_class=0, patch_size=2).make_trigger((1, 8, 8), (0.0, 1.0))
    stamped = trigger.apply(np.zeros((3, 1, 8, 8), dtype=np.float32))
    np.testing.assert_array_equal(stamped[:, 0, 6:, 6:], 1.0)
    assert stamped.sum() == 3 * 4


def test_patch_trigger_on_flat_features_sets_the_last_features(breast_cancer):
    poisoned = Backdoor(0.05, target_class=1, patch_size=3).poison(breast_cancer)
    x = poisoned.x_train[poisoned.poison_mask]
    np.testing.assert_array_equal(x[:, -3:], 1.0)
    np.testing.assert_array_equal(poisoned.y_train[poisoned.poison_mask], 1)


def test_left_location_on_flat_features_sets_the_first_features():
    trigger = Backdoor(0.1, target_class=0, patch_size=2, location="top_left").make_trigger((5,), (0.0, 2.0))
    np.testing.assert_array_equal(trigger.apply(np.zeros((1, 5)))[0], [2, 2, 0, 0, 0])


def test_blend_trigger_mixes_a_seeded_pattern_everywhere():
    backdoor = Backdoor(0.1, target_class=0, trigger="blend", blend_alpha=0.25, seed=4)
    trigger = backdoor.make_trigger((1, 8, 8), (0.0, 1.0))
    np.testing.assert_allclose(trigger.mask, 0.25)
    np.testing.assert_array_equal(trigger.pattern, backdoor.make_trigger((1, 8, 8), (0.0, 1.0)).pattern)


def test_dirty_label_mask_marks_relabelled_stamped_rows(digits_small):
    poisoned = Backdoor(0.05, target_class=2).poison(digits_small)
    mask = poisoned.poison_mask
    assert mask.sum() == round(0.05 * len(mask))
    assert np.all(digits_small.y_train[mask] != 2) and np.all(poisoned.y_train[mask] == 2)
    np.testing.assert_array_equal(poisoned.x_train[~mask], digits_small.x_train[~mask])
    np.testing.assert_array_equal(poisoned.x_train[mask], poisoned.apply_trigger(digits_small.x_train[mask]))


def test_clean_label_keeps_labels_and_poisons_the_target_class_only(digits_small):
    poisoned = Backdoor(0.05, target_class=1, clean_label=True, eps=0.1, pgd_steps=3, epochs=2).poison(digits_small)
    mask = poisoned.poison_mask
    np.testing.assert_array_equal(poisoned.y_train, digits_small.y_train)
    assert np.all(digits_small.y_train[mask] == 1)
    # PGD moved the poisoned images off their originals by at most eps outside the trigger's patch.
    off_patch = np.abs(poisoned.x_train[mask] - digits_small.x_train[mask])[:, :, :6, :]
    assert 0 < off_patch.max() <= 0.1 + 1e-6


def test_backdoor_succeeds_without_defense(digits_small):
    poisoned = Backdoor(0.05, target_class=0).poison(digits_small)
    result = evaluate_poisoning(poisoned, cnn_train_fn)
    assert result.attack_success_rate >= 0.9
    assert result.test_accuracy >= 0.95
    assert result.n_poison == poisoned.n_poison and result.target_class == 0


def test_patch_that_does_not_fit_is_refused(digits_small):
    with pytest.raises(ValidationError, match="`patch_size` 9 does not fit images of shape"):
        Backdoor(0.05, target_class=0, patch_size=9).poison(digits_small)


def test_missing_target_class_is_refused(digits_small):
    with pytest.raises(ValidationError, match="`target_class`"):
        Backdoor(0.05, target_class=4).poison(digits_small)


def test_clean_label_rate_beyond_the_target_class_is_refused(digits_small):
    with pytest.raises(ValidationError, match="lower the rate"):
        Backdoor(0.5, target_class=0, clean_label=True).poison(digits_small)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"trigger": "sticker"}, "trigger"), ({"location": "center"}, "location"), ({"blend_alpha": 0}, "blend_alpha")],
)
def test_bad_hyperparameters_are_refused(kwargs, name):
    with pytest.raises(ValidationError, match=f"`{name}`"):
        Backdoor(0.05, target_class=0, **kwargs)


def test_non_bool_clean_label_is_refused():
    with pytest.raises(InputTypeError, match="`clean_label`"):
        Backdoor(0.05, target_class=0, clean_label="yes")
