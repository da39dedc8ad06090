from __future__ import annotations

import numpy as np
import pytest

from bastion.defenses.sanitization import ActivationClustering
from bastion.exceptions import ValidationError


@pytest.mark.parametrize("n_components", [2, 4])
def test_flags_the_small_separated_cluster_only(planted, n_components):
    features, labels, poison = planted
    scores, removed = ActivationClustering(n_components=n_components).score_features(features, labels, 2)
    np.testing.assert_array_equal(removed, poison)
    assert scores[poison].min() > scores[~poison].max()


def test_ica_reduction_flags_the_cluster(planted):
    features, labels, poison = planted
    _, removed = ActivationClustering(reduction="ica", n_components=2).score_features(features, labels, 2)
    np.testing.assert_array_equal(removed, poison)


def test_unknown_reduction_is_refused():
    with pytest.raises(ValidationError, match="`reduction`"):
        ActivationClustering(reduction="tsne")



def test_ica_on_activations_with_dead_units_stays_finite_and_finds_the_poison():
    # Half the units dead (constant columns, the first one included) on about as many rows as
    # units, as in a small class's penultimate ReLU activations: FastICA's whitening then gave
    # constant sources, and its unit-variance rescaling turned the reduction NaN.
    rng = np.random.default_rng(0)
    features = rng.normal(size=(133, 128))
    features[:, ::2] = 0.0
    features[:13, 1::2] += 4.0  # the poison: a small, well-separated cluster
    scores, removed = ActivationClustering(reduction="ica").score_features(features, np.zeros(133, int), 1)
    assert np.isfinite(scores).all()
    assert removed[:13].all() and not removed[13:].any()
