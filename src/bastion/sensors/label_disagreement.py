"""A micro-model for labelled data: a classifier whose disagreement with the label is the flag.

On a classification training set (rather than a traffic stream), a micro-model trained on a
slice of the data flags a sample when it does not predict the sample's label: a flipped label
(or a poisoned sample that does not look like its class) disagrees with models trained on
other slices, where the poison is absent or rare.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from bastion.exceptions import InputTypeError, NotFittedError, ValidationError
from bastion.mixins import ParamsReprMixin
from bastion.validation import check_inputs, check_labels


def _flat(x: Any, name: str = "x") -> np.ndarray:
    array = check_inputs(x, name)
    return array.reshape(len(array), -1)


class LabelDisagreementSensor(ParamsReprMixin):
    """Flags samples whose label a classifier trained on other data does not predict.

    Args:
        estimator: an unfitted scikit-learn classifier with ``predict_proba`` (cloned for
            each fit); default ``LogisticRegression(C=1, max_iter=1000)``.

    Attributes (after ``fit``):
        estimator_: the fitted classifier; ``classes_`` its labels.

    Raises:
        InputTypeError: ``estimator`` lacks ``fit``/``predict_proba``.
    """

    def __init__(self, *, estimator: Any = None) -> None:
        if estimator is not None and not (hasattr(estimator, "fit") and hasattr(estimator, "predict_proba")):
            raise InputTypeError(
                "`estimator` must be a scikit-learn classifier with fit and predict_proba, "
                f"got {type(estimator).__name__}"
            )
        self.estimator = estimator

    def fit(self, x: Any, y: Any) -> LabelDisagreementSensor:
        """Train the classifier on ``(x, y)``; returns ``self``.

        Raises:
            ValidationError: fewer than two classes in ``y``.
        """
        x = _flat(x)
        y = check_labels(y, "y", n_samples=len(x))
        if np.unique(y).size < 2:
            raise ValidationError(f"`y` must hold at least two classes to train a classifier, got {np.unique(y)}")
        base = self.estimator if self.estimator is not None else LogisticRegression(C=1.0, max_iter=1000)
        self.estimator_ = clone(base).fit(x, y)
        self.classes_ = np.asarray(self.estimator_.classes_)
        return self

    def score(self, x: Any, y: Any) -> np.ndarray:
        """``(n,)`` float: one minus the probability the classifier gives each sample's label.

        A label the classifier never saw in training gets probability 0 (score 1).

        Raises:
            NotFittedError: before ``fit``.
        """
        if not hasattr(self, "estimator_"):
            raise NotFittedError("this LabelDisagreementSensor is not fitted yet; call fit(x, y) first")
        x = _flat(x, "x")
        y = check_labels(y, "y", n_samples=len(x))
        proba = self.estimator_.predict_proba(x)
        column = np.searchsorted(self.classes_, y)
        known = (column < len(self.classes_)) & (self.classes_[np.minimum(column, len(self.classes_) - 1)] == y)
        label_proba = np.where(known, proba[np.arange(len(y)), np.minimum(column, len(self.classes_) - 1)], 0.0)
        return 1.0 - label_proba

    def predict(self, x: Any, y: Any) -> np.ndarray:
        """``(n,)`` bool, True where the classifier's most likely class is not the sample's label.

        Raises:
            NotFittedError: before ``fit``.
        """
        if not hasattr(self, "estimator_"):
            raise NotFittedError("this LabelDisagreementSensor is not fitted yet; call fit(x, y) first")
        x = _flat(x, "x")
        y = check_labels(y, "y", n_samples=len(x))
        return self.estimator_.predict(x) != y
