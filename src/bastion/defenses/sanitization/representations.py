"""What the model-based sanitizers share: train a model on the data, read its representations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from bastion.data.dataset import Dataset
from bastion.defenses.sanitization.base import Sanitizer
from bastion.models.representations import ReferenceTrainer, penultimate
from bastion.models.torch import TorchModel


class ModelSanitizer(Sanitizer):
    """A sanitizer that trains its own model on the (possibly poisoned) data.

    Subclasses call ``self._init_training(...)`` from ``__init__`` with the keyword arguments
    below and ``self._model(dataset)`` / ``self._representations(dataset)`` in ``_score``.

    Training keyword arguments:
        module_factory: ``None`` for bastion's zoo network for the input shape (``small_cnn``
            for images ``(c, h, w)``, ``mlp`` otherwise), or a callable
            ``(input_shape, n_classes) -> nn.Module``.
        epochs, lr, batch_size: the Adam schedule of that model.
        progress: show a progress bar while it trains.
        seed: seeds the model and everything random in the method.
    """

    def _init_training(
        self,
        *,
        module_factory: Callable[[tuple[int, ...], int], nn.Module] | None,
        epochs: int,
        lr: float,
        batch_size: int,
        progress: bool,
        seed: int,
    ) -> None:
        self._trainer = ReferenceTrainer(
            module_factory, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, progress=progress
        )
        self.module_factory = module_factory
        self.epochs = self._trainer.epochs
        self.lr = self._trainer.lr
        self.batch_size = self._trainer.batch_size
        self.progress = self._trainer.progress
        self.seed = self._trainer.seed

    def _model(self, dataset: Dataset) -> TorchModel:
        return self._trainer.train_on(dataset, description=f"{type(self).__name__}: representation model")

    def _representations(self, dataset: Dataset) -> np.ndarray:
        """Penultimate-layer representations ``(n_train, d)`` of a model trained on ``dataset``."""
        return penultimate(self._model(dataset), dataset.x_train)


def class_rows(y: np.ndarray, n_classes: int) -> list[np.ndarray]:
    """Indices of the training rows of each class (empty classes give empty arrays)."""
    order = np.argsort(y, kind="stable")
    bounds = np.searchsorted(y[order], np.arange(n_classes + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(n_classes)]


def top_fraction(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Bool mask of the ``round(fraction * n)`` highest scores (ties broken by position)."""
    n = round(min(max(fraction, 0.0), 1.0) * len(scores))
    removed = np.zeros(len(scores), dtype=bool)
    if n:
        removed[np.argsort(-scores, kind="stable")[:n]] = True
    return removed
