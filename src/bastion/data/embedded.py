"""Datasets that ship with scikit-learn, so bastion runs with no download."""

from __future__ import annotations

import math

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

from bastion.data.dataset import Dataset
from bastion.exceptions import ValidationError
from bastion.validation import check_scalar, check_seed


def check_split(n_samples: int, n_classes: int, *, seed: object, test_size: object) -> tuple[int, float]:
    """Validate the ``seed`` and ``test_size`` of a stratified split; return them.

    Raises:
        ValidationError: ``test_size`` outside (0, 1), or leaving fewer samples than classes
            in either split (a stratified split needs one of each class on both sides).
    """
    seed = check_seed(seed)
    test_size = check_scalar(test_size, "test_size", low=0, high=1, include_low=False, include_high=False)
    n_test = math.ceil(test_size * n_samples)
    if min(n_test, n_samples - n_test) < n_classes:
        raise ValidationError(
            f"`test_size` must leave at least {n_classes} samples (one per class) on each side of the "
            f"{n_samples}-sample split, got {test_size:g} ({n_samples - n_test} train, {n_test} test)"
        )
    return seed, test_size


def digits(*, seed: int = 0, test_size: float = 0.25) -> Dataset:
    """scikit-learn's 8x8 handwritten digits as ``(n, 1, 8, 8)`` images in [0, 1].

    1,797 images of 10 classes, split stratified by ``seed``.
    """
    bunch = load_digits()
    seed, test_size = check_split(len(bunch.target), 10, seed=seed, test_size=test_size)
    # The raw pixels are integer intensities 0..16.
    x = (bunch.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    return Dataset.from_arrays(
        x_train, y_train, x_test, y_test, name="digits", classes=tuple(str(c) for c in range(10))
    )


def breast_cancer(*, seed: int = 0, test_size: float = 0.25) -> Dataset:
    """The Wisconsin breast-cancer table: 569 samples, 30 features, 2 classes.

    Features are min-max scaled with statistics of the training split only, so no test
    information leaks into the scaling; test values may fall slightly outside [0, 1] and are
    clipped to it.
    """
    bunch = load_breast_cancer()
    seed, test_size = check_split(len(bunch.target), 2, seed=seed, test_size=test_size)
    x = bunch.data.astype(np.float64)
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    low = x_train.min(axis=0)
    span = np.maximum(x_train.max(axis=0) - low, 1e-12)
    x_train = ((x_train - low) / span).astype(np.float32)
    x_test = np.clip((x_test - low) / span, 0.0, 1.0).astype(np.float32)
    return Dataset.from_arrays(
        x_train, y_train, x_test, y_test, name="breast_cancer", classes=tuple(bunch.target_names)
    )
