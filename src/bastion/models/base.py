"""The Model protocol and the input validation shared by every adapter.

A Model is whatever an attack targets: a torch module, a scikit-learn estimator, an ONNX
file, a remote API. Each adapter declares its ``capabilities``:

- ``"labels"``: ``predict(x)`` answers class labels (every model);
- ``"scores"``: ``predict_proba(x)`` answers class probabilities;
- ``"gradients"``: white-box access (``logits``, ``loss_gradient``, ``logits_tensor``).

An attack calls :func:`require` once with what it needs; the error names the missing
capability. Every adapter counts the inputs it answers in ``queries``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from bastion.exceptions import CapabilityError, InputTypeError, ValidationError
from bastion.validation import check_inputs, check_scalar

if TYPE_CHECKING:
    import torch

LABELS = "labels"
SCORES = "scores"
GRADIENTS = "gradients"


@runtime_checkable
class Model(Protocol):
    """What every bastion model offers, black-box or white-box."""

    n_classes: int
    input_shape: tuple[int, ...]
    clip: tuple[float, float]
    capabilities: frozenset[str]

    @property
    def queries(self) -> int:
        """How many inputs this model has answered."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n,)`` int64 labels."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``(n, n_classes)`` float32 probabilities (needs the ``"scores"`` capability)."""


@runtime_checkable
class WhiteBoxModel(Model, Protocol):
    """A Model with the ``"gradients"`` capability: its logits, differentiable in torch.

    What gradient attacks and adversarial training use (:class:`~bastion.models.TorchModel`
    and the white-box view of an ONNX graph implement it).
    """

    def logits(self, x: np.ndarray) -> np.ndarray:
        """``(n, n_classes)`` float32 logits."""

    def loss_gradient(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gradient of the cross-entropy of ``y`` with respect to ``x``, shaped like ``x``."""

    def logits_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable logits of a tensor batch (counts queries, no validation)."""


def require(model: Any, capability: str, who: str) -> None:
    """Check that ``model`` has ``capability``; raise a CapabilityError naming it otherwise.

    Args:
        model: the model an attack or defense was given.
        capability: ``"labels"``, ``"scores"`` or ``"gradients"``.
        who: the attack or defense asking, for the message.
    """
    capabilities = getattr(model, "capabilities", None)
    if capabilities is None or not hasattr(model, "predict"):
        raise InputTypeError(
            f"`model` must be a bastion Model (TorchModel, SklearnModel, OnnxModel, ...), "
            f"got {type(model).__name__}; wrap your model first"
        )
    if capability not in capabilities:
        hints = {
            SCORES: "it answers labels only; use a label-only attack or a model that returns probabilities",
            GRADIENTS: "it is black-box; use a black-box attack (SquareAttack, HopSkipJump) or a TorchModel",
        }
        raise CapabilityError(
            f"{who} needs a model with {capability!r}, but {type(model).__name__} offers "
            f"{sorted(capabilities)}: {hints.get(capability, '')}".rstrip(": ")
        )


class BaseModel:
    """Shared machinery of the adapters: validation and the query counter.

    Subclasses set ``n_classes``, ``input_shape``, ``clip`` and ``capabilities`` and
    implement ``_predict_proba`` (and ``_predict_labels`` for label-only models, or to
    answer labels another way than the argmax of the scores). The public ``predict`` and
    ``predict_proba`` validate the batch with ``check_x`` and count it once (``_accept``).
    """

    n_classes: int
    input_shape: tuple[int, ...]
    clip: tuple[float, float]
    capabilities: frozenset[str] = frozenset({LABELS, SCORES})

    def __init__(self) -> None:
        self._queries = 0
        self._query_lock = threading.Lock()

    @property
    def queries(self) -> int:
        """How many inputs this model has answered since creation or ``reset_queries``."""
        return self._queries

    def reset_queries(self) -> None:
        """Set the query counter back to zero."""
        with self._query_lock:
            self._queries = 0

    def _count(self, n: int) -> None:
        with self._query_lock:
            self._queries += int(n)

    def check_x(self, x: Any, name: str = "x") -> np.ndarray:
        """Validate a batch against this model's input shape and range; return float32."""
        return check_inputs(x, name, sample_shape=self.input_shape, value_range=self.clip)

    # What predict_proba's answers are checked to be: "probabilities" (rows summing to 1) for
    # adapters of real models; "scores" (in [0, 1]) for output policies that round or drop.
    answers: str = "probabilities"

    def _accept(self, x: Any) -> np.ndarray:
        """Validate a batch and count it as answered: the step every query goes through."""
        x = self.check_x(x)
        self._count(len(x))
        return x

    def _checked_proba(self, x: np.ndarray) -> np.ndarray:
        """``_predict_proba`` of an accepted batch, its answer checked (:func:`check_answer`)."""
        return check_answer(self._predict_proba(x), len(x), self.n_classes, type(self).__name__, kind=self.answers)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, ``(n, n_classes)`` float32; counts ``n`` queries.

        Raises:
            ValidationError: the model answered the wrong shape, NaN or infinite values, or
                rows that are not probabilities (see :func:`check_answer`).
        """
        if SCORES not in self.capabilities:
            require(self, SCORES, f"{type(self).__name__}.predict_proba")
        return self._checked_proba(self._accept(x))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class labels, ``(n,)`` int64; counts ``n`` queries."""
        return self._predict_labels(self._accept(x))

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _predict_labels(self, x: np.ndarray) -> np.ndarray:
        """Labels of a validated, counted batch: by default the argmax of the scores."""
        if SCORES not in self.capabilities:
            require(self, SCORES, f"{type(self).__name__}.predict")
        return self._checked_proba(x).argmax(axis=1).astype(np.int64)


# Rows of float32 probabilities sum to 1 within this (softmax in float32 is off by ~1e-7 per class).
PROBABILITY_TOLERANCE = 1e-3
ANSWER_KINDS = ("probabilities", "scores", "logits")


def check_answer(answer: Any, n: int, n_classes: int, who: str, *, kind: str = "probabilities") -> np.ndarray:
    """Check what a model answered for ``n`` inputs, at the adapter boundary; return float32.

    A user's model (or a remote server) may answer anything: a width other than
    ``n_classes`` would make attacks index out of range or score garbage, and NaN (weights
    full of NaN, training that diverged) would make every result meaningless.

    Args:
        answer: the model's output.
        n: the number of inputs it answered.
        n_classes: the model's declared number of classes.
        who: the model, for the message.
        kind: ``"probabilities"`` (finite, in [0, 1], rows summing to 1), ``"scores"``
            (finite, in [0, 1]) or ``"logits"`` (finite).

    Raises:
        ValidationError: not numeric, shape other than ``(n, n_classes)``, NaN or infinite
            entries, or values that are not of ``kind``.
    """
    try:
        array = np.asarray(answer, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"{who} answered something that is not numeric {kind}: {error}") from error
    if array.shape != (n, n_classes):
        raise ValidationError(
            f"{who} answered {kind} of shape {array.shape} for {n} inputs, expected (n, n_classes) = "
            f"({n}, {n_classes}); check its `n_classes` and what its output holds"
        )
    finite = np.isfinite(array)
    if not finite.all():
        raise ValidationError(
            f"{who} answered {int(array.size - finite.sum())} NaN or infinite {kind} for {n} inputs: its weights "
            "may hold NaN, or the training that produced it diverged"
        )
    if kind == "logits" or not array.size:
        return array
    if array.min() < -PROBABILITY_TOLERANCE or array.max() > 1 + PROBABILITY_TOLERANCE:
        raise ValidationError(
            f"{who} answered {kind} outside [0, 1] (from {float(array.min()):g} to {float(array.max()):g}); "
            "if it outputs logits, say so (e.g. outputs='logits')"
        )
    if kind == "probabilities":
        worst = float(np.abs(array.astype(np.float64).sum(axis=1) - 1).max())
        if worst > PROBABILITY_TOLERANCE:
            raise ValidationError(
                f"{who} answered probabilities whose rows do not sum to 1 (off by up to {worst:.3g}); "
                "if it outputs logits or unnormalised scores, say so (e.g. outputs='logits')"
            )
    return array


def check_answer_labels(answer: Any, n: int, n_classes: int, who: str) -> np.ndarray:
    """Check the labels a model answered for ``n`` inputs: ``(n,)`` ints in ``0 .. n_classes - 1``; int64.

    Raises:
        ValidationError: not integers, the wrong length, or a label out of range.
    """
    try:
        array = np.asarray(answer)
        integral = array.dtype.kind in "iu" or (
            array.dtype.kind == "f" and bool(np.all(np.isfinite(array))) and bool(np.all(array == np.round(array)))
        )
    except (TypeError, ValueError):
        integral = False
    if not integral:
        raise ValidationError(f"{who} answered labels that are not integers: {str(answer)[:80]}")
    array = array.reshape(-1) if array.shape == (n, 1) else array
    if array.shape != (n,):
        raise ValidationError(f"{who} answered labels of shape {array.shape} for {n} inputs, expected ({n},)")
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        raise ValidationError(
            f"{who} answered label {int(array.max() if array.max() >= n_classes else array.min())}, outside "
            f"0..{n_classes - 1} for its {n_classes} classes; check its `n_classes`"
        )
    return array.astype(np.int64)


def check_clip(clip: Any) -> tuple[float, float]:
    """Validate a model's valid input range ``(low, high)`` with ``low < high``."""
    if not isinstance(clip, (tuple, list)) or len(clip) != 2:
        raise InputTypeError(f"`clip` must be a (low, high) pair, got {clip!r}")
    low = check_scalar(clip[0], "clip[0]")
    high = check_scalar(clip[1], "clip[1]")
    if not low < high:
        raise ValidationError(f"`clip` must satisfy low < high, got ({low:g}, {high:g})")
    return (low, high)


def check_input_shape(input_shape: Any) -> tuple[int, ...]:
    """Validate the shape of one sample: a non-empty tuple of positive ints."""
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise InputTypeError(f"`input_shape` must be a tuple of positive ints, got {input_shape!r}")
    return tuple(check_scalar(s, "input_shape", kind=int, low=1) for s in input_shape)
