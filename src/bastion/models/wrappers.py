"""Output policies as Models: what a prediction API chooses to reveal of its model.

Tramèr et al. (2016, Sec. 6) study countermeasures that change only what an API returns:
rounding the confidences, or returning class labels only; APIs also commonly return only the
top-k classes, or perturb their scores (Orekondy et al. 2020 and Lee et al. 2019 study
deliberate perturbations; :class:`NoisyScores` is the simplest, random one). Each policy here is a black-box
Model wrapping another one; it forwards every query (so the wrapped model's counter keeps
counting) and counts it in its own ``queries`` too. The serving gateway's output policies
reuse these classes.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import numpy as np

from bastion.exceptions import InputTypeError
from bastion.models.base import LABELS, SCORES, BaseModel, require
from bastion.validation import check_scalar, check_seed


class ForwardingModel(BaseModel):
    """A black-box view of another Model: same task, its own query counter.

    Every query is validated the way the wrapped model validates, counted here, then
    forwarded (so the wrapped model's counter counts it too). Labels are the wrapped
    model's; a subclass changes what is revealed by overriding ``_predict_proba`` (scores)
    or ``_predict_labels``, and sets ``capabilities``.
    """

    # A policy may round or drop confidences: its rows need not sum to 1.
    answers = "scores"

    def __init__(self, model: Any, who: str) -> None:
        super().__init__()
        require(model, LABELS, who)
        self.model = model
        self.n_classes = model.n_classes
        self.input_shape = tuple(model.input_shape)
        self.clip = tuple(model.clip)

    def check_x(self, x: Any, name: str = "x") -> np.ndarray:
        """Validate a batch the way the wrapped model does."""
        return self.model.check_x(x, name)

    def _predict_labels(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x)

    def __copy__(self) -> ForwardingModel:
        # A copy forwards to a copy of the wrapped model: queries made through it move no
        # counter of the original chain (used to measure fidelity off the attacker's budget).
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.model = copy.copy(self.model)
        return clone


class RoundedScores(ForwardingModel):
    """A Model whose confidences are rounded to ``decimals`` decimal places.

    The rounding countermeasure of Tramèr et al., "Stealing Machine Learning Models via
    Prediction APIs", USENIX Security 2016, Sec. 6 (BigML rounds to 5 decimals). Labels are
    the wrapped model's, unchanged; rounded rows may not sum exactly to 1.

    Args:
        model: a bastion Model with ``"scores"``.
        decimals: decimal places kept, an int in [0, 10].

    Raises:
        CapabilityError: ``model`` answers labels only.
    """

    def __init__(self, model: Any, decimals: int) -> None:
        super().__init__(model, "RoundedScores")
        require(model, SCORES, "RoundedScores")
        self.decimals = check_scalar(decimals, "decimals", kind=int, low=0, high=10)
        self.capabilities = frozenset({LABELS, SCORES})

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.round(self.model.predict_proba(x), self.decimals).astype(np.float32)

    def __repr__(self) -> str:
        return f"RoundedScores({self.model!r}, decimals={self.decimals})"


class LabelOnly(ForwardingModel):
    """A Model that answers class labels only: the strongest output policy short of refusing.

    Tramèr et al. 2016 attack this setting in Sec. 5 (extraction given class labels only) and
    weigh it as a countermeasure in Sec. 6. Score-based attacks refuse it with a
    :class:`~bastion.exceptions.CapabilityError` naming ``"scores"``.

    Args:
        model: any bastion Model.
    """

    capabilities = frozenset({LABELS})

    def __init__(self, model: Any) -> None:
        super().__init__(model, "LabelOnly")

    def __repr__(self) -> str:
        return f"LabelOnly({self.model!r})"


class TopK(ForwardingModel):
    """A Model that reveals the ``k`` largest confidences of each answer; the others read 0.

    Top-k is what many prediction APIs return (Tramèr et al. 2016, Sec. 6, discuss revealing
    fewer classes as a countermeasure); ``k = 1`` gives the winning class and its confidence
    only. Kept confidences are the wrapped model's, not renormalised; labels are unchanged.

    Args:
        model: a bastion Model with ``"scores"``.
        k: confidences kept per answer, an int in [1, n_classes].

    Raises:
        CapabilityError: ``model`` answers labels only.
    """

    def __init__(self, model: Any, k: int) -> None:
        super().__init__(model, "TopK")
        require(model, SCORES, "TopK")
        self.k = check_scalar(k, "k", kind=int, low=1, high=model.n_classes)
        self.capabilities = frozenset({LABELS, SCORES})

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        scores = self.model.predict_proba(x)
        # Ties at the k-th value keep the first columns, like argsort.
        dropped = np.argsort(-scores, axis=1, kind="stable")[:, self.k :]
        kept = scores.copy()
        np.put_along_axis(kept, dropped, 0.0, axis=1)
        return kept.astype(np.float32)

    def __repr__(self) -> str:
        return f"TopK({self.model!r}, k={self.k})"


class NoisyScores(ForwardingModel):
    """A Model whose confidences carry Gaussian noise of standard deviation ``scale``.

    Each row is ``p + N(0, scale^2)``, clipped at 0 and renormalised to sum to 1. The noise
    of an input is drawn from a generator seeded by ``seed`` and the input's bytes, so asking
    the same input twice returns the same answer: averaging repeated queries does not remove
    it. Labels are the wrapped model's, unchanged (a noisy row's argmax may differ).

    Args:
        model: a bastion Model with ``"scores"``.
        scale: standard deviation of the noise, a float in [0, 1].
        seed: seeds the noise.

    Raises:
        CapabilityError: ``model`` answers labels only.
    """

    def __init__(self, model: Any, scale: float, *, seed: int = 0) -> None:
        super().__init__(model, "NoisyScores")
        require(model, SCORES, "NoisyScores")
        self.scale = check_scalar(scale, "scale", low=0.0, high=1.0)
        self.seed = check_seed(seed)
        self.capabilities = frozenset({LABELS, SCORES})

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        scores = self.model.predict_proba(x).astype(np.float64)
        rows = np.ascontiguousarray(x, dtype=np.float32).reshape(len(x), -1)
        seeds = [int.from_bytes(hashlib.sha256(row.tobytes()).digest()[:8], "little") for row in rows]
        noise = np.stack([np.random.default_rng([self.seed, s]).standard_normal(self.n_classes) for s in seeds])
        noisy = np.clip(scores + self.scale * noise, 0.0, None)
        totals = noisy.sum(axis=1, keepdims=True)
        # A row pushed entirely to 0 falls back to the uniform answer rather than dividing by 0.
        noisy = np.where(totals > 0, noisy / np.where(totals > 0, totals, 1.0), 1.0 / self.n_classes)
        return noisy.astype(np.float32)

    def __repr__(self) -> str:
        return f"NoisyScores({self.model!r}, scale={self.scale:g}, seed={self.seed})"


LEAVES = "leaves"


class LeafIdentity(ForwardingModel):
    """A tree served with the identity of the leaf each input reaches, beside its confidences.

    The "identity oracle" of Tramèr et al. 2016, Sec. 4.2: BigML-like APIs return, with each
    prediction, a value that identifies the leaf. ``predict_leaf(x)`` answers both; a model
    with the ``"leaves"`` capability is what :class:`~bastion.attacks.extraction.
    DecisionTreePathFinding` needs.

    Args:
        model: a :class:`~bastion.models.SklearnModel` of a fitted scikit-learn decision tree
            (any estimator with ``apply``).

    Raises:
        InputTypeError: the wrapped estimator has no ``apply`` (not a tree).
    """

    def __init__(self, model: Any) -> None:
        super().__init__(model, "LeafIdentity")
        require(model, SCORES, "LeafIdentity")
        if not hasattr(getattr(model, "estimator", None), "apply"):
            raise InputTypeError(
                f"`model` must be a SklearnModel of a decision tree (an estimator with apply()), got {model!r}"
            )
        self.capabilities = frozenset({LABELS, SCORES, LEAVES})

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)

    def predict_leaf(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(leaf ids (n,) int64, probabilities (n, k) float32)``; counts ``n`` queries."""
        x = self._accept(x)
        leaves = np.asarray(self.model.estimator.apply(x.reshape(len(x), -1))).astype(np.int64)
        return leaves, self.model.predict_proba(x)

    def __repr__(self) -> str:
        return f"LeafIdentity({self.model!r})"
