from __future__ import annotations

import numpy as np
import pytest

from bastion.attacks.poisoning import LabelFlip
from bastion.defenses.sanitization import Iterative, Sanitizer
from bastion.exceptions import InputTypeError


class RemoveLargestLabel(Sanitizer):
    """Removes the first row whose label is the largest, until none above 1 are left."""

    def _score(self, dataset):
        scores = dataset.y_train.astype(float)
        removed = np.zeros(len(scores), dtype=bool)
        if scores.max() > 1:
            removed[int(np.argmax(scores))] = True
        return scores, removed


def test_rounds_map_removals_back_to_the_original_rows(digits_small):
    poisoned = LabelFlip(0.01, seed=0).poison(digits_small)
    iterative = Iterative(RemoveLargestLabel(), rounds=3)
    result = iterative.clean(poisoned)
    expected = np.flatnonzero(poisoned.y_train == 3)[:3]
    np.testing.assert_array_equal(np.flatnonzero(result.removed_mask), expected)
    assert list(result.scores[expected]) == [4.0, 3.0, 2.0]
    assert result.scores[~result.removed_mask].max() < 1
    assert iterative.rounds_run_ == 3 and len(result.dataset.y_train) == len(poisoned.y_train) - 3


def test_stops_when_a_round_removes_nothing(digits_small):
    small = digits_small
    keep = small.y_train < 2
    import dataclasses

    two = dataclasses.replace(small, x_train=small.x_train[keep], y_train=small.y_train[keep])
    iterative = Iterative(RemoveLargestLabel(), rounds=5)
    assert iterative.clean(two).n_removed == 0 and iterative.rounds_run_ == 1


def test_non_sanitizer_is_refused():
    with pytest.raises(InputTypeError, match="`defense`"):
        Iterative(object())
