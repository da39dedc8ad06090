"""Spectral signatures (Tran, Li & Madry 2018)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from bastion.attacks.poisoning.checks import check_rate
from bastion.data.dataset import Dataset
from bastion.defenses.sanitization.representations import ModelSanitizer, class_rows, top_fraction
from bastion.validation import check_scalar


def spectral_scores(features: np.ndarray) -> np.ndarray:
    """Squared projection of each centred row on the top right singular vector, ``(n,)``."""
    centred = features - features.mean(axis=0)
    if len(features) < 2:
        return np.zeros(len(features))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return (centred @ vt[0]) ** 2


class SpectralSignatures(ModelSanitizer):
    """Remove, per class, the samples that project most on the top singular direction.

    Tran, Li & Madry, "Spectral Signatures in Backdoor Attacks", NeurIPS 2018, Alg. 1: train a
    network on the data, take each class's penultimate-layer representations, centre them,
    score every sample by its squared projection on the top right singular vector, and remove
    the ``multiplier * expected_rate`` highest-scoring share of each class (the paper removes
    1.5 times the upper bound on the poison rate). Poisoned samples of a backdoor share a
    feature the clean ones lack, which shows as a direction of extra variance.

    Args:
        expected_rate: the assumed upper bound on the poison share of a class, in (0, 1).
        multiplier: removal budget as a multiple of ``expected_rate``.
        module_factory, epochs, lr, batch_size, progress, seed: the representation model (see
            :class:`~bastion.defenses.sanitization.representations.ModelSanitizer`).

    Example:
        >>> result = SpectralSignatures().clean(poisoned)
        >>> result.recall
    """

    def __init__(
        self,
        *,
        expected_rate: float = 0.05,
        multiplier: float = 1.5,
        module_factory: Callable[[tuple[int, ...], int], nn.Module] | None = None,
        epochs: int = 15,
        lr: float = 1e-3,
        batch_size: int = 64,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.expected_rate = check_rate(expected_rate, "expected_rate")
        self.multiplier = check_scalar(multiplier, "multiplier", low=0, include_low=False)
        self._init_training(
            module_factory=module_factory, epochs=epochs, lr=lr, batch_size=batch_size, progress=progress, seed=seed
        )

    def score_features(self, features: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and removal on given representations ``(n, d)`` (the model-free core)."""
        scores = np.zeros(len(y))
        removed = np.zeros(len(y), dtype=bool)
        for rows in class_rows(y, n_classes):
            if rows.size:
                scores[rows] = spectral_scores(features[rows])
                removed[rows] = top_fraction(scores[rows], self.multiplier * self.expected_rate)
        return scores, removed

    def _score(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        return self.score_features(self._representations(dataset), dataset.y_train, dataset.n_classes)
