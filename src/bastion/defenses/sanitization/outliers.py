"""Per-class outlier filtering on the features or on a model's representations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from torch import nn

from bastion.data.dataset import Dataset
from bastion.defenses.sanitization.representations import ModelSanitizer, class_rows, top_fraction
from bastion.exceptions import InputTypeError
from bastion.validation import check_choice, check_scalar

METHODS = ("isolation_forest", "lof", "mahalanobis")


def outlier_scores(features: np.ndarray, method: str, *, seed: int) -> np.ndarray:
    """Outlier scores of rows ``(n, d)`` (higher = more anomalous) by ``method``."""
    n = len(features)
    if n < 3:
        return np.zeros(n)
    if method == "isolation_forest":
        return -IsolationForest(random_state=seed).fit(features).score_samples(features)
    if method == "lof":
        lof = LocalOutlierFactor(n_neighbors=min(20, n - 1)).fit(features)
        return -lof.negative_outlier_factor_
    # Ledoit-Wolf shrinkage keeps the covariance invertible when d is close to n.
    return LedoitWolf().fit(features).mahalanobis(features)


class OutlierFilter(ModelSanitizer):
    """Remove the most anomalous share of each class, by an off-the-shelf outlier detector.

    The classic sanitization baseline: poison injected into a class is unlike that class's
    other samples. Per class, each sample is scored by an isolation forest (Liu, Ting & Zhou
    2008), the local outlier factor (Breunig et al. 2000) or its Mahalanobis distance to the
    class (Ledoit-Wolf covariance), and the ``contamination`` highest share is removed.

    Args:
        method: ``"isolation_forest"``, ``"lof"`` or ``"mahalanobis"``.
        contamination: share of each class removed, in (0, 0.5].
        representation: ``None`` scores the raw (flattened) features; ``"model"`` the
            penultimate-layer representations of a model trained on the data (see the
            training arguments); a callable ``x -> (n, d)`` array uses the caller's own.
        module_factory, epochs, lr, batch_size, progress, seed: the representation model
            (``representation="model"``); ``seed`` also seeds the isolation forest.

    Raises:
        ValidationError: unknown method or representation, contamination out of range.
    """

    def __init__(
        self,
        *,
        method: str = "isolation_forest",
        contamination: float = 0.05,
        representation: str | Callable[[np.ndarray], np.ndarray] | None = None,
        module_factory: Callable[[tuple[int, ...], int], nn.Module] | None = None,
        epochs: int = 15,
        lr: float = 1e-3,
        batch_size: int = 64,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.method = check_choice(method, "method", METHODS)
        self.contamination = check_scalar(contamination, "contamination", low=0, high=0.5, include_low=False)
        if representation is not None and not callable(representation):
            check_choice(representation, "representation", (None, "model"))
        self.representation = representation
        self._init_training(
            module_factory=module_factory, epochs=epochs, lr=lr, batch_size=batch_size, progress=progress, seed=seed
        )

    def _features(self, dataset: Dataset) -> np.ndarray:
        x = dataset.x_train
        if self.representation is None:
            return x.reshape(len(x), -1).astype(np.float64)
        if self.representation == "model":
            return self._representations(dataset)
        features = np.asarray(self.representation(x))
        if features.ndim != 2 or len(features) != len(x):
            raise InputTypeError(
                f"`representation` must map x_train to an (n, d) array with n = {len(x)}, got shape {features.shape}"
            )
        return features.astype(np.float64)

    def _score(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        features = self._features(dataset)
        y = dataset.y_train
        scores = np.zeros(len(y))
        removed = np.zeros(len(y), dtype=bool)
        for rows in class_rows(y, dataset.n_classes):
            if rows.size:
                scores[rows] = outlier_scores(features[rows], self.method, seed=self.seed)
                removed[rows] = top_fraction(scores[rows], self.contamination)
        return scores, removed
