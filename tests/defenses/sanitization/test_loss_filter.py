from __future__ import annotations

import pytest

from bastion.attacks.poisoning import LabelFlip
from bastion.defenses.sanitization import LossFilter
from bastion.exceptions import ValidationError
from bastion.models import zoo


def test_flipped_labels_have_the_highest_losses(digits_small):
    poisoned = LabelFlip(0.1, seed=0).poison(digits_small)
    factory = lambda shape, k: zoo.mlp(shape, k, hidden=(32,), seed=0)  # noqa: E731
    result = LossFilter(fraction=0.1, epochs=5, lr=3e-3, module_factory=factory).clean(poisoned)
    assert result.precision >= 0.6  # random removal would be 0.1


def test_bad_fraction_is_refused():
    with pytest.raises(ValidationError, match="`fraction`"):
        LossFilter(fraction=0.9)
