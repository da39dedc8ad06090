"""Loss-based filtering: samples a model trained on the data fits worst are suspect."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from bastion.data.dataset import Dataset
from bastion.defenses.sanitization.representations import ModelSanitizer, top_fraction
from bastion.validation import check_scalar


class LossFilter(ModelSanitizer):
    """Train a model on the data and remove the samples with the highest training loss.

    Flipped labels and injected points the model cannot reconcile with the rest of their class
    keep a high loss after training (the small-loss trick of co-teaching, Han et al. 2018, and
    the loss-based sanitizers of Koh, Steinhardt & Liang 2018). Short training (few epochs)
    keeps the model from memorising them. The per-sample cross-entropy is the score; the
    ``fraction`` highest are removed.

    Args:
        fraction: share of the training set removed, in (0, 0.5].
        module_factory, lr, batch_size, progress, seed: the model (see
            :class:`~bastion.defenses.sanitization.representations.ModelSanitizer`).
        epochs: its training epochs (few, so it does not memorise the poison).
    """

    def __init__(
        self,
        *,
        fraction: float = 0.1,
        module_factory: Callable[[tuple[int, ...], int], nn.Module] | None = None,
        epochs: int = 5,
        lr: float = 1e-3,
        batch_size: int = 64,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.fraction = check_scalar(fraction, "fraction", low=0, high=0.5, include_low=False)
        self._init_training(
            module_factory=module_factory, epochs=epochs, lr=lr, batch_size=batch_size, progress=progress, seed=seed
        )

    def _score(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        model = self._model(dataset)
        logits = torch.from_numpy(model.logits(dataset.x_train))
        losses = nn.functional.cross_entropy(logits, torch.from_numpy(dataset.y_train), reduction="none").numpy()
        return losses.astype(np.float64), top_fraction(losses, self.fraction)
