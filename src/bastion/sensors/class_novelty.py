"""A micro-model for labelled data: one novelty detector per class.

A sample is flagged when the detector of its own class finds it novel: an injected sample
that does not look like the class it is labelled with, or a backdoored sample whose trigger
the class's clean samples never show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.neighbors import LocalOutlierFactor

from bastion.exceptions import InputTypeError, NotFittedError
from bastion.mixins import ParamsReprMixin
from bastion.sensors.label_disagreement import _flat
from bastion.validation import check_labels, check_scalar


class ClassNoveltySensor(ParamsReprMixin):
    """Per-class novelty detection: flag a sample its class's detector calls an outlier.

    Args:
        detector: an unfitted scikit-learn novelty detector with ``fit`` and ``predict``
            (``-1`` = outlier) and ``score_samples`` (higher = more normal), cloned per class;
            default ``LocalOutlierFactor(n_neighbors=n_neighbors, novelty=True)``.
        n_neighbors: neighbours of the default detector (capped by the class size), at least 1.

    Attributes (after ``fit``):
        detectors_: ``{label: fitted detector}``; a label absent from the training slice has
            none, and its samples are flagged (nothing vouches for them).

    Raises:
        InputTypeError: ``detector`` lacks ``fit``/``predict``/``score_samples``.
    """

    def __init__(self, *, detector: Any = None, n_neighbors: int = 10) -> None:
        if detector is not None and not all(hasattr(detector, m) for m in ("fit", "predict", "score_samples")):
            raise InputTypeError(
                "`detector` must be a scikit-learn novelty detector with fit, predict and score_samples, "
                f"got {type(detector).__name__}"
            )
        self.detector = detector
        self.n_neighbors = check_scalar(n_neighbors, "n_neighbors", kind=int, low=1)

    def _detector(self, size: int) -> Any:
        if self.detector is not None:
            return clone(self.detector)
        return LocalOutlierFactor(n_neighbors=max(1, min(self.n_neighbors, size - 1)), novelty=True)

    def fit(self, x: Any, y: Any) -> ClassNoveltySensor:
        """Fit one detector per class present in ``y`` (classes with one sample are skipped)."""
        x = _flat(x)
        y = check_labels(y, "y", n_samples=len(x))
        self.detectors_ = {
            int(label): self._detector(int((y == label).sum())).fit(x[y == label])
            for label in np.unique(y)
            if (y == label).sum() > 1
        }
        return self

    def _apply(self, x: Any, y: Any, method: str, missing: float) -> np.ndarray:
        if not hasattr(self, "detectors_"):
            raise NotFittedError("this ClassNoveltySensor is not fitted yet; call fit(x, y) first")
        x = _flat(x)
        y = check_labels(y, "y", n_samples=len(x))
        out = np.full(len(x), missing, dtype=np.float64)
        for label, detector in self.detectors_.items():
            rows = y == label
            if rows.any():
                out[rows] = getattr(detector, method)(x[rows])
        return out

    def score(self, x: Any, y: Any) -> np.ndarray:
        """``(n,)`` float: minus the detector's ``score_samples`` (higher = more novel)."""
        return -self._apply(x, y, "score_samples", -np.inf)

    def predict(self, x: Any, y: Any) -> np.ndarray:
        """``(n,)`` bool, True where the sample's class detector calls it an outlier."""
        return self._apply(x, y, "predict", -1.0) == -1
