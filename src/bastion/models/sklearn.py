"""SklearnModel: a fitted scikit-learn classifier as a black-box Model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bastion.exceptions import InputTypeError, NotFittedError, ValidationError
from bastion.models.base import LABELS, SCORES, BaseModel, check_answer_labels, check_clip, check_input_shape


class SklearnModel(BaseModel):
    """A fitted scikit-learn classifier, seen through its scores (or labels only).

    Inputs of shape ``(n, *input_shape)`` are flattened to ``(n, d)`` before they reach the
    estimator. Estimators without ``predict_proba`` (e.g. ``SVC(probability=False)``) give a
    label-only model: score-based attacks refuse it with a clear error.

    Args:
        estimator: a fitted classifier whose ``classes_`` are ``0 .. k-1``.
        input_shape: shape of one sample; defaults to ``(n_features_in_,)``.
        clip: the valid input range.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        input_shape: Sequence[int] | None = None,
        clip: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        super().__init__()
        if not hasattr(estimator, "predict"):
            raise InputTypeError(
                f"`estimator` must be a scikit-learn classifier with predict(), got {type(estimator).__name__}"
            )
        classes = getattr(estimator, "classes_", None)
        if not hasattr(estimator, "n_features_in_"):
            raise NotFittedError(f"`estimator` {type(estimator).__name__} must be fitted before wrapping it")
        if classes is None:
            raise InputTypeError(
                f"`estimator` must be a classifier with classes_, got {type(estimator).__name__}, which has none "
                "(a regressor or a transformer?)"
            )
        classes = np.asarray(classes)
        if not np.issubdtype(classes.dtype, np.integer) or not np.array_equal(classes, np.arange(len(classes))):
            raise ValidationError(f"`estimator` must be fitted on labels 0..k-1, got classes_ {classes.tolist()[:10]}")
        self.estimator = estimator
        self.n_classes = len(classes)
        n_features = int(estimator.n_features_in_)
        self.input_shape = check_input_shape(input_shape if input_shape is not None else (n_features,))
        if int(np.prod(self.input_shape)) != n_features:
            raise ValidationError(
                f"`input_shape` {self.input_shape} must hold {n_features} features, the estimator's n_features_in_"
            )
        self.clip = check_clip(clip)
        has_scores = hasattr(estimator, "predict_proba")
        self.capabilities = frozenset({LABELS, SCORES} if has_scores else {LABELS})

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(x.reshape(len(x), -1)).astype(np.float32)

    def _predict_labels(self, x: np.ndarray) -> np.ndarray:
        labels = self.estimator.predict(x.reshape(len(x), -1))
        return check_answer_labels(labels, len(x), self.n_classes, repr(self))

    def __repr__(self) -> str:
        return f"SklearnModel({type(self.estimator).__name__}, n_classes={self.n_classes})"
