"""Fixtures of the sanitization tests: planted clusters, tiny seeded data."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture()
def planted():
    """Representations of two classes (60 rows each, 16 dims); 10 rows of class 0 form a far cluster.

    Returns ``(features, labels, poison_mask)``.
    """
    rng = np.random.default_rng(0)
    features = rng.normal(size=(120, 16))
    labels = np.repeat([0, 1], 60)
    poison = np.zeros(120, dtype=bool)
    poison[:10] = True
    features[:10] += 6.0 * np.eye(16)[0] + 0.2 * rng.normal(size=(10, 16))
    return features, labels, poison
