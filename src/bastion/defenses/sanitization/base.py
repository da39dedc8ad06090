"""What every data sanitizer returns, and the base class that scores it against the poison.

A sanitizer (Tran et al. 2018, Chen et al. 2018, Hayase et al. 2021, Cretu et al. 2008)
gives each training sample a suspicion score and removes the most suspicious ones. Given a
:class:`~bastion.attacks.poisoning.PoisonedDataset` (or any data whose ground truth is
known), the result also says how much of the removal was poison (precision) and how much of
the poison was removed (recall).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.attacks.poisoning.base import PoisonedDataset
from bastion.data.dataset import Dataset
from bastion.exceptions import InputTypeError
from bastion.mixins import ParamsReprMixin, ResultMixin


@dataclass(frozen=True, eq=False)
class CleaningResult(ResultMixin):
    """The cleaned data, what was removed, and how well, when the poison is known.

    Attributes:
        dataset: the cleaned data, of the input's type (a ``PoisonedDataset`` stays one, its
            ``poison_mask`` restricted to the rows kept, so the remaining poison can still be
            measured).
        removed_mask: ``(n_train,)`` bool over the input's training rows, True where removed.
        scores: ``(n_train,)`` float, per-sample suspicion (higher = more suspicious).
        defense: the sanitizer's repr (class and hyperparameters).
        poison_mask: ``(n_train,)`` bool ground truth of the input, or ``None`` when unknown.
        seconds: wall-clock time of ``clean``.
    """

    dataset: Any
    removed_mask: np.ndarray
    scores: np.ndarray
    defense: str
    poison_mask: np.ndarray | None = None
    seconds: float = 0.0

    @property
    def n_removed(self) -> int:
        """How many training rows were removed."""
        return int(self.removed_mask.sum())

    @property
    def precision(self) -> float | None:
        """Share of the removed rows that were poison; ``None`` without ground truth (0 if none removed)."""
        if self.poison_mask is None:
            return None
        removed = self.n_removed
        return float((self.removed_mask & self.poison_mask).sum() / removed) if removed else 0.0

    @property
    def recall(self) -> float | None:
        """Share of the poison that was removed; ``None`` without ground truth (1 if there was none)."""
        if self.poison_mask is None:
            return None
        poison = int(self.poison_mask.sum())
        return float((self.removed_mask & self.poison_mask).sum() / poison) if poison else 1.0

    @property
    def clean_removed_fraction(self) -> float | None:
        """Share of the clean rows that were removed (the cost); ``None`` without ground truth."""
        if self.poison_mask is None:
            return None
        clean = int((~self.poison_mask).sum())
        return float((self.removed_mask & ~self.poison_mask).sum() / clean) if clean else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: counts and scores of the removal, not the data arrays."""
        return {
            "defense": self.defense,
            "n_train": int(self.removed_mask.size),
            "n_removed": self.n_removed,
            "precision": self.precision,
            "recall": self.recall,
            "clean_removed_fraction": self.clean_removed_fraction,
            "seconds": self.seconds,
        }


def keep_rows(dataset: Dataset, keep: np.ndarray) -> Dataset:
    """The dataset with only the training rows where ``keep`` is True (test split untouched)."""
    changes: dict[str, Any] = {"x_train": dataset.x_train[keep], "y_train": dataset.y_train[keep]}
    if isinstance(dataset, PoisonedDataset):
        changes["poison_mask"] = dataset.poison_mask[keep]
    return dataclasses.replace(dataset, **changes)


class Sanitizer(ParamsReprMixin):
    """Base class of the classification-data sanitizers: ``clean(dataset) -> CleaningResult``.

    Subclasses store keyword-only hyperparameters (``seed`` included) in ``__init__`` and
    implement ``_score(dataset) -> (scores, removed_mask)``; the base validates the input,
    times the run, builds the cleaned dataset and attaches the ground truth.
    """

    def clean(self, dataset: Dataset) -> CleaningResult:
        """Score every training sample, remove the suspicious ones.

        Args:
            dataset: a :class:`~bastion.data.Dataset` or
                :class:`~bastion.attacks.poisoning.PoisonedDataset`.

        Raises:
            InputTypeError: ``dataset`` is not a Dataset.
        """
        if not isinstance(dataset, Dataset):
            raise InputTypeError(f"`dataset` must be a bastion Dataset, got {type(dataset).__name__}")
        start = time.perf_counter()
        scores, removed = self._score(dataset)
        removed = np.asarray(removed, dtype=bool)
        return CleaningResult(
            dataset=keep_rows(dataset, ~removed),
            removed_mask=removed,
            scores=np.asarray(scores, dtype=np.float64),
            defense=repr(self),
            poison_mask=dataset.poison_mask.copy() if isinstance(dataset, PoisonedDataset) else None,
            seconds=time.perf_counter() - start,
        )

    def _score(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError
