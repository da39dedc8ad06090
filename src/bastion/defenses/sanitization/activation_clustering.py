"""Activation clustering (Chen et al. 2018)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA, FastICA
from sklearn.metrics import silhouette_score
from torch import nn

from bastion.data.dataset import Dataset
from bastion.defenses.sanitization.representations import ModelSanitizer, class_rows
from bastion.validation import check_choice, check_scalar

REDUCTIONS = ("ica", "pca")


class ActivationClustering(ModelSanitizer):
    """Per class, split the reduced activations in two; flag the small, well-separated cluster.

    Chen, Carvalho, Baracaldo, Ludwig, Edwards, Lee, Molloy & Srivastava, "Detecting Backdoor
    Attacks on Deep Neural Networks by Activation Clustering", 2018, Sec. 4: the
    penultimate-layer activations of each class, reduced to ``n_components`` dimensions (PCA by
    default, as ART's ``ActivationDefence``; the paper's ICA with ``reduction="ica"``, which is
    less stable on small classes), are clustered by 2-means. In a poisoned class the poison forms its own
    cluster; it is flagged when its relative size is at most ``size_threshold`` and the
    clustering's silhouette score is at least ``silhouette_threshold`` (Sec. 4.2's two
    criteria, with the thresholds of the paper's analysis, 35% and 0.10). The score of a sample
    is its distance to the larger cluster's centre over the median such distance in its class.

    Args:
        n_components: dimensions kept per class.
        reduction: ``"ica"`` or ``"pca"``.
        size_threshold: largest relative size of a poison cluster, in (0, 0.5].
        silhouette_threshold: smallest silhouette score of a poisoned class's clustering, in [-1, 1].
        module_factory, epochs, lr, batch_size, progress, seed: the representation model (see
            :class:`~bastion.defenses.sanitization.representations.ModelSanitizer`); ``seed``
            also seeds ICA and k-means.
    """

    def __init__(
        self,
        *,
        n_components: int = 10,
        reduction: str = "pca",
        size_threshold: float = 0.35,
        silhouette_threshold: float = 0.10,
        module_factory: Callable[[tuple[int, ...], int], nn.Module] | None = None,
        epochs: int = 15,
        lr: float = 1e-3,
        batch_size: int = 64,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.n_components = check_scalar(n_components, "n_components", kind=int, low=1)
        self.reduction = check_choice(reduction, "reduction", REDUCTIONS)
        self.size_threshold = check_scalar(size_threshold, "size_threshold", low=0, high=0.5, include_low=False)
        self.silhouette_threshold = check_scalar(silhouette_threshold, "silhouette_threshold", low=-1, high=1)
        self._init_training(
            module_factory=module_factory, epochs=epochs, lr=lr, batch_size=batch_size, progress=progress, seed=seed
        )

    def _reduce(self, features: np.ndarray) -> np.ndarray:
        # Dead ReLU units give constant columns. They carry nothing to cluster on, and they
        # break FastICA: with about as many units as rows (a small class), its whitening gives
        # constant sources, which its unit-variance rescaling divides by (NaN). PCA's
        # projection does not change without them (their loadings are zero).
        varying = np.ptp(features, axis=0) > 0
        if not varying.any():
            return np.zeros((len(features), 1))
        features = features[:, varying]
        k = min(self.n_components, features.shape[1], len(features) - 1)
        if self.reduction == "pca":
            return PCA(n_components=k, random_state=self.seed).fit_transform(features)
        return FastICA(n_components=k, random_state=self.seed, max_iter=1000, tol=1e-3).fit_transform(features)

    def score_features(self, features: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and removal on given representations ``(n, d)`` (the model-free core)."""
        scores = np.zeros(len(y))
        removed = np.zeros(len(y), dtype=bool)
        for rows in class_rows(y, n_classes):
            if rows.size < 4:
                continue
            reduced = self._reduce(features[rows])
            labels = KMeans(n_clusters=2, n_init=10, random_state=self.seed).fit_predict(reduced)
            sizes = np.bincount(labels, minlength=2)
            if sizes.min() == 0:
                continue
            small = int(np.argmin(sizes))
            centre = reduced[labels != small].mean(axis=0)
            distance = np.linalg.norm(reduced - centre, axis=1)
            scores[rows] = distance / max(float(np.median(distance)), 1e-12)
            separated = silhouette_score(reduced, labels, random_state=self.seed) >= self.silhouette_threshold
            if sizes[small] / rows.size <= self.size_threshold and separated:
                removed[rows] = labels == small
        return scores, removed

    def _score(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        return self.score_features(self._representations(dataset), dataset.y_train, dataset.n_classes)
