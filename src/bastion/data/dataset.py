"""The Dataset every part of bastion consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bastion.validation import check_inputs, check_labels, count_classes


@dataclass(frozen=True)
class Dataset:
    """A train/test split of a classification task.

    Attributes:
        x_train, x_test: float32 features of shape ``(n, *input_shape)``; embedded datasets
            are scaled to [0, 1].
        y_train, y_test: int64 labels in ``0 .. n_classes - 1``.
        classes: one display name per class.
        input_shape: the shape of one sample, e.g. ``(1, 8, 8)``.
        name: where the data came from.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    input_shape: tuple[int, ...]
    name: str

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def n_features(self) -> int:
        """Number of scalar features in one sample."""
        return int(np.prod(self.input_shape))

    @classmethod
    def from_arrays(
        cls,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_test: np.ndarray,
        y_test: np.ndarray,
        *,
        name: str,
        classes: tuple[str, ...] | None = None,
    ) -> Dataset:
        """Validate arrays and build a Dataset.

        Raises:
            ValidationError: NaN/Inf, mismatched lengths or shapes, or labels that are not
                ``0 .. k-1`` (every class below the largest label must occur in training).
        """
        x_train = check_inputs(x_train, f"{name}: x_train")
        x_test = check_inputs(x_test, f"{name}: x_test", sample_shape=x_train.shape[1:])
        y_train = check_labels(y_train, f"{name}: y_train", n_samples=len(x_train))
        n_classes = count_classes(y_train, f"{name}: y_train")
        y_test = check_labels(y_test, f"{name}: y_test", n_samples=len(x_test), n_classes=n_classes)
        if classes is None:
            classes = tuple(str(c) for c in range(n_classes))
        return cls(
            x_train=np.ascontiguousarray(x_train),
            y_train=y_train,
            x_test=np.ascontiguousarray(x_test),
            y_test=y_test,
            classes=tuple(classes),
            input_shape=tuple(int(s) for s in x_train.shape[1:]),
            name=name,
        )
