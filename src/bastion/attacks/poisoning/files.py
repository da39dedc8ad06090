"""Poisoned datasets on disk: a pickle-free ``.npz`` with the poison's ground truth.

The archive holds the four arrays every bastion ``.npz`` dataset has (``x_train, y_train,
x_test, y_test``, so :func:`bastion.load` reads it as a plain Dataset) plus ``poison_mask``,
``attack`` (a string), ``target_class`` (-1 for none) and, for backdoors, ``trigger_mask`` and
``trigger_pattern``. A sanitizer's output adds ``removed_mask`` (over the input's rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bastion.attacks.poisoning.base import PoisonedDataset, Trigger
from bastion.data import load
from bastion.data.dataset import Dataset
from bastion.exceptions import ValidationError


def save_dataset(dataset: Dataset, path: str | Path, **extra: np.ndarray) -> Path:
    """Write ``dataset`` (and, for a PoisonedDataset, its ground truth) to an ``.npz`` file.

    Args:
        dataset: a Dataset or PoisonedDataset.
        path: the file to write; ``.npz`` is appended when missing.
        extra: further arrays to store (e.g. ``removed_mask``).

    Returns:
        The path written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, Any] = {
        "x_train": dataset.x_train,
        "y_train": dataset.y_train,
        "x_test": dataset.x_test,
        "y_test": dataset.y_test,
    }
    if isinstance(dataset, PoisonedDataset):
        arrays["poison_mask"] = dataset.poison_mask
        arrays["attack"] = np.array(dataset.attack)
        arrays["target_class"] = np.array(-1 if dataset.target_class is None else dataset.target_class)
        if dataset.trigger is not None:
            arrays["trigger_mask"] = dataset.trigger.mask
            arrays["trigger_pattern"] = dataset.trigger.pattern
    arrays.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def load_dataset(name_or_path: str | Path, *, seed: int = 0) -> Dataset:
    """A dataset by name or path; an ``.npz`` with a ``poison_mask`` comes back as a PoisonedDataset.

    Raises:
        ValidationError: the file is unreadable, or its ground truth does not fit its data.
    """
    dataset = load(name_or_path, seed=seed)
    path = Path(name_or_path)
    if path.suffix != ".npz" or not path.is_file():
        return dataset
    with np.load(path, allow_pickle=False) as archive:
        if "poison_mask" not in archive.files:
            return dataset
        try:
            mask = archive["poison_mask"].astype(bool)
            attack = str(archive["attack"]) if "attack" in archive.files else ""
            target = int(archive["target_class"]) if "target_class" in archive.files else -1
            trigger = None
            if "trigger_mask" in archive.files and "trigger_pattern" in archive.files:
                trigger = Trigger(
                    mask=archive["trigger_mask"].astype(np.float32),
                    pattern=archive["trigger_pattern"].astype(np.float32),
                )
        except (TypeError, ValueError) as error:
            raise ValidationError(f"{path}: unreadable poisoning ground truth: {error}") from error
    if trigger is not None and trigger.mask.shape != dataset.input_shape:
        raise ValidationError(
            f"{path}: trigger of shape {trigger.mask.shape} does not fit samples of shape {dataset.input_shape}"
        )
    return PoisonedDataset.from_dataset(
        dataset,
        poison_mask=mask,
        attack=attack,
        target_class=None if target < 0 else target,
        trigger=trigger,
    )
