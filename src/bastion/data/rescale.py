"""Bringing a dataset in another value range to [0, 1], the range eps is measured in."""

from __future__ import annotations

import dataclasses

import numpy as np

from bastion.data.dataset import Dataset
from bastion.exceptions import ValidationError
from bastion.validation import check_scalar


def rescale(dataset: Dataset, low: float, high: float) -> Dataset:
    """Map the features of ``dataset`` linearly from ``[low, high]`` to ``[0, 1]``.

    ``x -> (x - low) / (high - low)``, then clipped to [0, 1]: a value below ``low`` becomes
    0 and one above ``high`` becomes 1. Both splits use the same map, so a model trained on
    the rescaled training split sees its test split on the same scale.

    Args:
        dataset: the data, any value range.
        low, high: the interval mapped to [0, 1]; finite with ``low < high``. For 8-bit
            pixels stored as floats, ``(0, 255)``; for 16-bit sensor counts, ``(0, 65535)``.

    Returns:
        A new :class:`Dataset` (float32 features in [0, 1]), the labels unchanged.

    Raises:
        ValidationError: ``low`` or ``high`` not finite, or ``low >= high``.
    """
    low = check_scalar(low, "low")
    high = check_scalar(high, "high")
    if not low < high:
        raise ValidationError(f"`low` must be below `high`, got low={low:g}, high={high:g}")
    span = high - low

    def mapped(x: np.ndarray) -> np.ndarray:
        return np.clip((x.astype(np.float64) - low) / span, 0.0, 1.0).astype(np.float32)

    return dataclasses.replace(dataset, x_train=mapped(dataset.x_train), x_test=mapped(dataset.x_test))


def clipped_fraction(dataset: Dataset, low: float, high: float) -> float:
    """The share of feature values of ``dataset`` outside ``[low, high]`` (what :func:`rescale` clips)."""
    outside = sum(int(np.count_nonzero((x < low) | (x > high))) for x in (dataset.x_train, dataset.x_test))
    return outside / (dataset.x_train.size + dataset.x_test.size)
