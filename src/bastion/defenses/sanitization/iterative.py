"""Iterated sanitization: clean, retrain on what is left, detect again."""

from __future__ import annotations

import numpy as np

from bastion.data.dataset import Dataset
from bastion.defenses.sanitization.base import Sanitizer, keep_rows
from bastion.exceptions import InputTypeError
from bastion.validation import check_scalar


class Iterative(Sanitizer):
    """Run a sanitizer for several rounds, each on the data the previous round kept.

    A one-shot spectral filter removes a fixed share of each class; when the poison is a
    larger share of its class than assumed, some survives. Each round retrains the
    sanitizer's model on the cleaned data (so the poison left is a smaller share and stands out
    again) and removes more. Stops early when a round removes nothing.

    The score of a sample removed in round ``r`` (1-based) is ``rounds - r + 1`` plus one (so
    earlier removals rank higher); the score of a kept sample is its rank in the last round's
    scores, scaled into [0, 1).

    Args:
        defense: the sanitizer to iterate (any :class:`Sanitizer`).
        rounds: the most rounds to run.

    Attributes:
        rounds_run_: after ``clean``, how many rounds ran.

    Example:
        >>> Iterative(SpectralSignatures(), rounds=4).clean(poisoned).recall
    """

    def __init__(self, defense: Sanitizer, *, rounds: int = 4) -> None:
        if not isinstance(defense, Sanitizer):
            raise InputTypeError(f"`defense` must be a bastion Sanitizer, got {type(defense).__name__}")
        self.defense = defense
        self.rounds = check_scalar(rounds, "rounds", kind=int, low=1)

    def _score(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        n = len(dataset.x_train)
        kept = np.arange(n)
        removed_in = np.zeros(n, dtype=np.int64)
        last_scores = np.zeros(n)
        current = dataset
        self.rounds_run_ = 0
        for round_ in range(1, self.rounds + 1):
            result = self.defense.clean(current)
            self.rounds_run_ = round_
            last_scores[kept] = result.scores
            if not result.removed_mask.any():
                break
            removed_in[kept[result.removed_mask]] = round_
            kept = kept[~result.removed_mask]
            current = keep_rows(dataset, np.isin(np.arange(n), kept))
        ranks = np.zeros(n)
        if kept.size:
            ranks[kept] = np.argsort(np.argsort(last_scores[kept], kind="stable"), kind="stable") / kept.size
        scores = np.where(removed_in > 0, self.rounds - removed_in + 2.0, ranks)
        return scores, removed_in > 0
