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
