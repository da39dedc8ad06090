"""The model ``bastion assess`` assesses when given none: a small CNN on the embedded digits.

Trained once (15 epochs of Adam, seed 0, about 98% test accuracy), saved as a bastion model
folder under the cache folder and loaded from there afterwards, so every run assesses the
same weights (their SHA-256 is in the report).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import bastion
from bastion.models import TorchModel, fit, io, zoo

logger = logging.getLogger(__name__)

NAME = "small_cnn-digits-seed0-v1"
EPOCHS = 15


def default_model(cache_dir: Path, *, progress: bool = False) -> tuple[Any, Any, Path]:
    """``(model, dataset, folder)``: the cached default model, trained first if missing.

    Args:
        cache_dir: bastion's cache folder (the model goes to ``<cache_dir>/models/``).
        progress: show a progress bar while training.
    """
    dataset = bastion.load("digits", seed=0)
    folder = Path(cache_dir) / "models" / NAME
    if not (folder / io.SPEC_FILE).is_file():
        logger.info("training the default model into %s", folder)
        module = fit(
            zoo.small_cnn(dataset.input_shape, dataset.n_classes, seed=0),
            dataset.x_train,
            dataset.y_train,
            epochs=EPOCHS,
            seed=0,
            progress=progress,
            description="default model (small_cnn on digits)",
        )
        model = TorchModel(module, input_shape=dataset.input_shape, n_classes=dataset.n_classes)
        # Save beside, then rename: an interrupted training never leaves a half-written model.
        partial = folder.with_name(folder.name + ".partial")
        io.save(model, partial)
        if not folder.exists():
            partial.replace(folder)
    return io.load(folder), dataset, folder


__all__ = ["default_model"]
