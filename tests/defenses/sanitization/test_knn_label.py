from __future__ import annotations

import pytest

from bastion.attacks.poisoning import LabelFlip
from bastion.defenses.sanitization import KNNLabelFilter
from bastion.exceptions import ValidationError


def test_finds_random_label_flips_precisely(digits):
    poisoned = LabelFlip(0.2, seed=0).poison(digits)
    result = KNNLabelFilter(k=10).clean(poisoned)
    assert result.recall >= 0.9 and result.precision >= 0.8
    assert result.dataset.n_poison == poisoned.n_poison - (result.removed_mask & poisoned.poison_mask).sum()


def test_clean_data_loses_few_rows(digits):
    assert KNNLabelFilter().clean(digits).n_removed / len(digits.y_train) < 0.03


def test_bad_k_is_refused():
    with pytest.raises(ValidationError, match="`k`"):
        KNNLabelFilter(k=0)
