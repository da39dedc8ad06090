"""SPECTRE (Hayase, Kong, Somani & Oh 2021): robust whitening and QUE scores, per class."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg
from sklearn.covariance import MinCovDet
from torch import nn

from bastion.data.dataset import Dataset
from bastion.defenses.sanitization.representations import ModelSanitizer, class_rows
from bastion.models.representations import penultimate
from bastion.validation import check_scalar


def robust_whiten(features: np.ndarray, *, seed: int) -> np.ndarray:
    """Centre and whiten rows with a minimum-covariance-determinant estimate (Rousseeuw 1984).

    The MCD fits the half of the rows with the smallest covariance determinant (then
    reweights), so a minority of poison cannot inflate the estimate; after whitening, the
    clean rows are roughly isotropic and the poison stands out.
    """
    mcd = MinCovDet(random_state=seed).fit(features)
    values, vectors = np.linalg.eigh(mcd.covariance_)
    values = np.maximum(values, 1e-9 * max(values.max(), 1e-12))
    return (features - mcd.location_) @ (vectors / np.sqrt(values))


def que_scores(whitened: np.ndarray, alpha: float) -> np.ndarray:
    """Quantum-entropy (QUE) outlier scores of whitened rows (Dong, Hopkins & Li 2019).

    ``M = exp(alpha (S - I) / (||S|| - 1)) / tr(...)`` with ``S`` the covariance of the rows;
    the score of ``z`` is ``z^T M z``. ``alpha = 0`` is the squared norm (Mahalanobis
    distance), ``alpha -> inf`` the squared projection on the top direction (spectral
    signatures); in between, every direction of excess variance counts, weighted.
    """
    k = whitened.shape[1]
    covariance = np.atleast_2d(np.cov(whitened.T, bias=True))
    top = float(np.linalg.eigvalsh(covariance).max())
    if k == 1 or top <= 1.0 + 1e-9:
        weights = np.eye(k)
    else:
        weights = scipy.linalg.expm(alpha * (covariance - np.eye(k)) / (top - 1.0))
    weights /= np.trace(weights)
    return np.einsum("ij,jk,ik->i", whitened, weights, whitened)


def best_split(scores: np.ndarray, low: int, high: int) -> int:
    """How many of the highest scores form a separate group (Otsu's criterion on log scores).

    Among cut positions ``j`` in ``[low, high]`` (the ``j`` highest against the rest), the one
    that maximises the separation of the two groups' mean log score in units of the pooled
    within-group standard deviation. Returns 0 when no cut is possible.
    """
    n = len(scores)
    high = min(high, n - 1)
    if n < 2 or low > high:
        return 0
    values = np.sort(np.log(np.maximum(scores, 1e-300)))[::-1]
    j = np.arange(1, n)
    s1, s2 = np.cumsum(values)[:-1], np.cumsum(values**2)[:-1]
    total1, total2 = values.sum(), (values**2).sum()
    mean_top, mean_rest = s1 / j, (total1 - s1) / (n - j)
    within = (s2 - j * mean_top**2) + ((total2 - s2) - (n - j) * mean_rest**2)
    separation = (mean_top - mean_rest) / np.sqrt(np.maximum(within / n, 1e-300))
    window = slice(low - 1, high)
    return int(j[window][np.argmax(separation[window])])


class SPECTRE(ModelSanitizer):
    """Robust whitening and QUE scores of each class's representations, with its contamination estimated.

    Hayase, Kong, Somani & Oh, "SPECTRE: Defending Against Backdoor Attacks Using Robust
    Statistics", ICML 2021, Alg. 1: per class, project the penultimate-layer representations
    of a model trained on the data onto their top ``n_components`` principal directions, whiten
    them with a *robust* covariance estimate (so the poison cannot hide in it), and score
    every sample with the quantum-entropy score (QUE, Dong et al. 2019) at ``alpha``.

    Where bastion departs from the paper, and why:
        - Robust covariance: the paper uses the filter of Diakonikolas et al. 2017; bastion uses
          scikit-learn's minimum covariance determinant, which needs no known contamination.
        - The paper removes ``1.5 eps n`` samples of the target class, with ``eps`` (the poison
          count) given. bastion does not know ``eps`` nor the class: in every class it
          **estimates the contamination** as the cut of the sorted log QUE scores that best
          separates a top group from the rest (Otsu's criterion, the group at most half the
          class and at least ``min_fraction`` of it), then confirms the group by *exclusionary
          reclassification* (Chen et al. 2018, Sec. 4.3): a model retrained without any of the
          candidate groups labels each group; a group it mostly gives to another class than its
          label is poison (a backdoor's samples look like their source class once the trigger's
          shortcut is not learnt), a group it keeps in its class is a legitimate sub-population
          and stays. The estimated share of each class is kept in ``contamination_``.

    Args:
        n_components: principal directions kept per class (at most a tenth of the class size).
        alpha: QUE's exponent (4 in the paper).
        min_fraction: the smallest group worth flagging, as a share of its class.
        agreement: a candidate group is confirmed as poison when the retrained model gives its
            own label to less than this share of it, in (0, 1].
        module_factory, epochs, lr, batch_size, progress, seed: the representation model (see
            :class:`~bastion.defenses.sanitization.representations.ModelSanitizer`); the
            reclassification model uses the same settings.

    Attributes:
        contamination_: after ``clean``, the removed share of each class.

    Example:
        >>> result = SPECTRE().clean(Backdoor(0.05, target_class=0).poison(bastion.load("digits")))
        >>> result.recall, result.clean_removed_fraction
    """

    def __init__(
        self,
        *,
        n_components: int = 8,
        alpha: float = 4.0,
        min_fraction: float = 0.02,
        agreement: float = 0.2,
        module_factory: Callable[[tuple[int, ...], int], nn.Module] | None = None,
        epochs: int = 15,
        lr: float = 1e-3,
        batch_size: int = 64,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.n_components = check_scalar(n_components, "n_components", kind=int, low=1)
        self.alpha = check_scalar(alpha, "alpha", low=0)
        self.min_fraction = check_scalar(min_fraction, "min_fraction", low=0, high=0.5, include_low=False)
        self.agreement = check_scalar(agreement, "agreement", low=0, high=1, include_low=False)
        self._init_training(
            module_factory=module_factory, epochs=epochs, lr=lr, batch_size=batch_size, progress=progress, seed=seed
        )

    def class_scores(self, features: np.ndarray) -> np.ndarray:
        """QUE scores of one class's representations ``(n, d)`` after PCA and robust whitening."""
        n = len(features)
        centred = features - features.mean(axis=0)
        k = int(min(self.n_components, centred.shape[1], max(1, n // 10)))
        if n < 4:
            return np.ones(n)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        projected = centred @ vt[:k].T
        return que_scores(robust_whiten(projected, seed=self.seed), self.alpha)

    def candidates(self, features: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores (each class's QUE over its median) and each class's top group, before confirmation."""
        scores = np.zeros(len(y))
        flagged = np.zeros(len(y), dtype=bool)
        for rows in class_rows(y, n_classes):
            if rows.size < 4:
                continue
            que = self.class_scores(features[rows])
            scores[rows] = que / max(float(np.median(que)), 1e-12)
            low = max(1, int(np.ceil(self.min_fraction * rows.size)))
            count = best_split(que, low, rows.size // 2)
            if count:
                flagged[rows[np.argsort(-que, kind="stable")[:count]]] = True
        return scores, flagged

    def _score(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        y = dataset.y_train
        model = self._model(dataset)
        scores, flagged = self.candidates(penultimate(model, dataset.x_train), y, dataset.n_classes)
        removed = np.zeros(len(y), dtype=bool)
        if flagged.any() and not flagged.all():
            x = dataset.x_train
            retrained = self._trainer.train(
                x[~flagged],
                y[~flagged],
                dataset.input_shape,
                dataset.n_classes,
                description="SPECTRE: reclassification model",
            )
            agrees = retrained.predict(x[flagged]) == y[flagged]
            rows = np.flatnonzero(flagged)
            share = np.bincount(y[rows], weights=agrees, minlength=dataset.n_classes) / np.maximum(
                np.bincount(y[rows], minlength=dataset.n_classes), 1
            )
            removed[rows] = share[y[rows]] < self.agreement
        counts = np.maximum(np.bincount(y, minlength=dataset.n_classes), 1)
        self.contamination_ = tuple(
            float(v) for v in np.bincount(y, weights=removed, minlength=dataset.n_classes) / counts
        )
        return scores, removed
