"""k-nearest-neighbour label sanitization: a label its neighbours disagree with is suspect."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from bastion.data.dataset import Dataset
from bastion.defenses.sanitization.base import Sanitizer
from bastion.validation import check_scalar


class KNNLabelFilter(Sanitizer):
    """Remove the samples whose ``k`` nearest neighbours mostly carry another label.

    The label-flip defense of Paudice, Muñoz-González & Lupu, "Label Sanitization against
    Label Flipping Poisoning Attacks", ECML-PKDD workshops 2018, Sec. 3: in feature space a
    flipped sample sits among samples of its true class, so the share of its ``k`` nearest
    neighbours (Euclidean, flattened features, the sample itself excluded) whose label differs
    from its own is high. Samples whose share exceeds ``threshold`` are removed; the share is
    the score.

    Args:
        k: neighbours consulted.
        threshold: disagreement share above which a sample is removed, in [0, 1).

    Example:
        >>> KNNLabelFilter(k=10).clean(LabelFlip(0.2).poison(bastion.load("digits"))).recall
    """

    def __init__(self, *, k: int = 10, threshold: float = 0.5) -> None:
        self.k = check_scalar(k, "k", kind=int, low=1)
        self.threshold = check_scalar(threshold, "threshold", low=0, high=1, include_high=False)

    def _score(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        x = dataset.x_train.reshape(len(dataset.x_train), -1)
        y = dataset.y_train
        k = min(self.k, len(x) - 1)
        if k < 1:
            return np.zeros(len(x)), np.zeros(len(x), dtype=bool)
        _, neighbours = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
        # Column 0 is the sample itself (or an exact duplicate of it, which is as good).
        others = neighbours[:, 1:]
        disagreement = (y[others] != y[:, None]).mean(axis=1)
        return disagreement, disagreement > self.threshold
