from __future__ import annotations

import numpy as np
import pytest

from bastion.defenses.sanitization import SpectralSignatures
from bastion.defenses.sanitization.spectral_signatures import spectral_scores
from bastion.exceptions import InputTypeError, ValidationError


def test_planted_cluster_scores_highest(planted):
    features, labels, poison = planted
    scores = spectral_scores(features[labels == 0])
    assert set(np.argsort(-scores)[:10]) == set(np.flatnonzero(poison))


def test_removes_multiplier_times_expected_rate_of_each_class(planted):
    features, labels, poison = planted
    _, removed = SpectralSignatures(expected_rate=0.1, multiplier=1.5).score_features(features, labels, 2)
    assert removed[labels == 0].sum() == 9 and removed[labels == 1].sum() == 9
    assert removed[poison].sum() == 9


def test_clean_on_images_trains_its_own_model(digits_small):
    result = SpectralSignatures(epochs=1).clean(digits_small)
    assert result.n_removed == sum(round(0.075 * (digits_small.y_train == c).sum()) for c in range(4))
    assert result.precision is None and "SpectralSignatures(expected_rate=0.05" in result.defense


def test_bad_expected_rate_is_refused():
    with pytest.raises(ValidationError, match="`expected_rate`"):
        SpectralSignatures(expected_rate=1.0)


def test_module_factory_must_be_callable():
    with pytest.raises(InputTypeError, match="`module_factory`"):
        SpectralSignatures(module_factory=3)
