from __future__ import annotations

import numpy as np
import pytest

from bastion.attacks.poisoning import Backdoor
from bastion.defenses.sanitization import SANITIZERS


@pytest.mark.parametrize("name", sorted(SANITIZERS))
def test_every_sanitizer_runs_with_defaults_on_flat_tabular_data(breast_cancer, name):
    poisoned = Backdoor(0.05, target_class=1, patch_size=4).poison(breast_cancer)
    result = SANITIZERS[name]().clean(poisoned)
    n = len(poisoned.y_train)
    assert result.removed_mask.shape == (n,) and result.scores.shape == (n,)
    assert np.all(np.isfinite(result.scores))
    assert len(result.dataset.y_train) == n - result.n_removed
    assert 0 <= result.recall <= 1 and result.to_dict()["defense"].startswith(type(SANITIZERS[name]()).__name__)
