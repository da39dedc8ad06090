"""Synthetic data made locally, for scale tests and benchmarks."""

from __future__ import annotations

import math

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from bastion.data.dataset import Dataset
from bastion.data.embedded import check_split
from bastion.exceptions import ValidationError
from bastion.validation import check_scalar


def synthetic_classification(
    *,
    n_samples: int = 60_000,
    n_features: int = 64,
    n_classes: int = 10,
    n_informative: int = 32,
    class_sep: float = 1.5,
    test_size: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """A Gaussian-cluster classification task (scikit-learn's ``make_classification``).

    Features are min-max scaled to [0, 1] with training-split statistics. The default size
    mirrors MNIST's 60,000 training images, for PATE's many-teacher regime.
    """
    n_classes = check_scalar(n_classes, "n_classes", kind=int, low=2)
    n_samples = check_scalar(n_samples, "n_samples", kind=int, low=2 * n_classes)
    n_features = check_scalar(n_features, "n_features", kind=int, low=2)
    n_informative = check_scalar(n_informative, "n_informative", kind=int, low=1, high=n_features)
    # Two Gaussian clusters per class sit on distinct vertices of the informative hypercube.
    if 2 * n_classes > 2**n_informative:
        raise ValidationError(
            f"`n_informative` must be at least {math.ceil(math.log2(2 * n_classes))} for {n_classes} classes "
            f"(2 clusters per class need 2 * n_classes <= 2 ** n_informative), got {n_informative}"
        )
    class_sep = check_scalar(class_sep, "class_sep", low=0, include_low=False)
    seed, test_size = check_split(n_samples, n_classes, seed=seed, test_size=test_size)
    x, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=2,
        class_sep=class_sep,
        random_state=seed,
    )
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    low = x_train.min(axis=0)
    span = np.maximum(x_train.max(axis=0) - low, 1e-12)
    x_train = ((x_train - low) / span).astype(np.float32)
    x_test = np.clip((x_test - low) / span, 0.0, 1.0).astype(np.float32)
    return Dataset.from_arrays(x_train, y_train, x_test, y_test, name="synthetic")
