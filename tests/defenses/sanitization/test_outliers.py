from __future__ import annotations

import numpy as np
import pytest

import bastion
from bastion.attacks.poisoning import BoundaryShift
from bastion.defenses.sanitization import OutlierFilter
from bastion.exceptions import InputTypeError, ValidationError


@pytest.mark.parametrize("method", ["isolation_forest", "lof", "mahalanobis"])
def test_each_method_removes_the_contamination_share_of_each_class(breast_cancer, method):
    result = OutlierFilter(method=method, contamination=0.1).clean(breast_cancer)
    for c in range(2):
        rows = breast_cancer.y_train == c
        assert result.removed_mask[rows].sum() == round(0.1 * rows.sum())


def test_callable_representation_is_used():
    labels = np.repeat([0, 1], 60)
    features = np.random.default_rng(0).uniform(size=(120, 1))
    features[:10] += 100.0
    data = bastion.Dataset.from_arrays(
        np.zeros((120, 2), np.float32), labels, np.zeros((2, 2), np.float32), [0, 1], name="planted"
    )
    result = OutlierFilter(method="mahalanobis", contamination=10 / 60, representation=lambda x: features).clean(data)
    np.testing.assert_array_equal(np.flatnonzero(result.removed_mask[:60]), np.arange(10))


def test_injected_points_score_above_clean_ones(digits_small):
    poisoned = BoundaryShift(0.05, source_class=1, target_class=2, depth=0.9, epochs=2).poison(digits_small)
    result = OutlierFilter(method="lof").clean(poisoned)
    assert np.median(result.scores[poisoned.poison_mask]) > np.median(result.scores[~poisoned.poison_mask])


def test_unknown_method_is_refused():
    with pytest.raises(ValidationError, match="`method`"):
        OutlierFilter(method="svm")


def test_bad_representation_output_is_refused(digits_small):
    with pytest.raises(InputTypeError, match="`representation`"):
        OutlierFilter(representation=lambda x: x[:3, 0, 0, :]).clean(digits_small)
