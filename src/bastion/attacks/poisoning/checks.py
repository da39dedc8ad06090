"""Checks every poisoning attack shares: the rate, the classes, the dataset."""

from __future__ import annotations

from typing import Any

import numpy as np

from bastion.data.dataset import Dataset
from bastion.exceptions import InputTypeError, ValidationError
from bastion.validation import check_scalar


def check_rate(rate: Any, name: str = "rate") -> float:
    """A fraction of the training set, strictly inside (0, 1)."""
    return check_scalar(rate, name, low=0, high=1, include_low=False, include_high=False)


def check_class_argument(value: Any, name: str) -> int | None:
    """``None`` or a non-negative int class index (checked against the data at ``poison`` time)."""
    if value is None:
        return None
    return check_scalar(value, name, kind=int, low=0)


def check_dataset(dataset: Any) -> Dataset:
    """Refuse anything that is not a bastion Dataset."""
    if not isinstance(dataset, Dataset):
        raise InputTypeError(f"`dataset` must be a bastion Dataset, got {type(dataset).__name__}")
    return dataset


def check_class_present(dataset: Dataset, value: int | None, name: str) -> None:
    """The class exists in the dataset and has training samples."""
    if value is None:
        return
    if value >= dataset.n_classes:
        raise ValidationError(
            f"`{name}` must be a class of {dataset.name!r} in 0..{dataset.n_classes - 1}, got {value}"
        )
    if not np.any(dataset.y_train == value):
        raise ValidationError(f"`{name}` is class {value}, which has no training samples in {dataset.name!r}")


def poison_count(rate: float, n_train: int) -> int:
    """How many rows a rate of the training set is (at least one)."""
    return max(1, round(rate * n_train))


def check_enough(available: int, needed: int, what: str) -> None:
    """Refuse a rate that needs more eligible rows than there are."""
    if available == 0:
        raise ValidationError(f"`rate` needs rows of {what}, and there are none")
    if needed > available:
        raise ValidationError(
            f"`rate` asks for {needed} poisoned rows but only {available} rows of {what} exist; lower the rate"
        )
