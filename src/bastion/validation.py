"""Validation shared by every public entry point.

Messages follow scikit-learn's format: the argument, what was expected, what was received,
e.g. "`eps` must be a float in [0, 1], got -0.1". Validation happens once, at the public
boundary; internal code trusts its inputs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bastion.exceptions import InputTypeError, ValidationError

_TYPE_NAMES = {float: "a float", int: "an int", bool: "a bool"}


def _interval(low: float | None, high: float | None, include_low: bool, include_high: bool) -> str:
    # An infinite bound is never attained: show it open, as in "[0, inf)".
    left = "[" if include_low and low is not None else "("
    right = "]" if include_high and high is not None else ")"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_scalar(
    value: Any,
    name: str,
    *,
    kind: type = float,
    low: float | None = None,
    high: float | None = None,
    include_low: bool = True,
    include_high: bool = True,
) -> Any:
    """Check that ``value`` is a finite scalar of ``kind`` inside an interval.

    Args:
        value: the received value.
        name: the argument's name, used in the message.
        kind: ``float`` (accepts ints too) or ``int``.
        low, high: interval bounds; ``None`` means unbounded.
        include_low, include_high: whether the bounds are closed.

    Returns:
        ``value`` converted to ``kind``.

    Raises:
        InputTypeError: ``value`` is not a number of ``kind`` (bools are refused).
        ValidationError: ``value`` is NaN, infinite or outside the interval.
    """
    interval = _interval(low, high, include_low, include_high)
    what = f"`{name}` must be {_TYPE_NAMES.get(kind, kind.__name__)} in {interval}"
    allowed = numbers.Integral if kind is int else numbers.Real
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise InputTypeError(f"{what}, got {value!r} of type {type(value).__name__}")
    converted = kind(value)
    if not np.isfinite(converted):
        raise ValidationError(f"{what}, got {value!r}")
    below = low is not None and (converted < low if include_low else converted <= low)
    above = high is not None and (converted > high if include_high else converted >= high)
    if below or above:
        raise ValidationError(f"{what}, got {value!r}")
    return converted


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices``; return it."""
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValidationError(f"`{name}` must be one of {listed}, got {value!r}")
    return value


def check_seed(seed: Any, name: str = "seed") -> int:
    """Check a random seed: a non-negative int below 2**32."""
    return check_scalar(seed, name, kind=int, low=0, high=2**32 - 1)


# Array kinds that are numbers on a line: unsigned, signed, floating. Booleans, complex
# numbers, dates, strings and objects are refused *before* any cast could hide them.
_REAL_KINDS = frozenset("uif")


def as_real_array(value: Any, name: str, *, what: str = "a numeric array") -> np.ndarray:
    """``value`` as a numpy array of real numbers, without casting anything away.

    Torch tensors are accepted (detached from their graph first: bastion never
    differentiates through its inputs).

    Raises:
        InputTypeError: not convertible, or of a dtype that is not unsigned, signed or
            floating (booleans, complex numbers, dates, strings and objects are refused).
    """
    detach = getattr(value, "detach", None)
    try:
        if callable(detach) and hasattr(value, "cpu"):
            value = detach().cpu().numpy()
        array = np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise InputTypeError(f"`{name}` must be {what}: {error}") from error
    if array.dtype.kind not in _REAL_KINDS:
        kind = {"b": "booleans", "c": "complex numbers"}.get(array.dtype.kind, "")
        got = f"{kind} (dtype {array.dtype})" if kind else f"dtype {array.dtype}"
        raise InputTypeError(f"`{name}` must be {what} of real numbers, got {got}")
    return array


def check_inputs(
    x: Any,
    name: str = "x",
    *,
    sample_shape: Sequence[int] | None = None,
    value_range: tuple[float, float] | None = None,
    allow_empty: bool = False,
) -> np.ndarray:
    """Check a batch of model inputs and return it as a float32 array.

    Args:
        x: array-like of shape ``(n, *sample_shape)``.
        name: the argument's name, used in messages.
        sample_shape: the expected shape of one sample; ``None`` skips the check.
        value_range: the closed interval every entry must lie in; ``None`` skips it.
        allow_empty: whether ``n == 0`` is accepted.

    Raises:
        InputTypeError: ``x`` is not numeric.
        ValidationError: wrong shape, NaN/Inf, or values outside ``value_range``.
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise InputTypeError(f"`{name}` must be a numeric array, got {type(x).__name__}")
    array = as_real_array(x, name)
    if sample_shape is not None:
        expected = (None, *tuple(sample_shape))
        if array.shape[1:] != tuple(sample_shape) or array.ndim != len(expected):
            shown = "(n, " + ", ".join(str(s) for s in sample_shape) + ")"
            raise ValidationError(
                f"`{name}` must have shape {shown}, got {array.shape}; reshape your data to the model's input_shape"
            )
    elif array.ndim < 2:
        raise ValidationError(f"`{name}` must be a batch with shape (n, ...), got {array.shape}")
    if 0 in array.shape[1:]:
        raise ValidationError(f"`{name}` samples must hold at least one feature, got shape {array.shape}")
    if array.shape[0] == 0 and not allow_empty:
        raise ValidationError(f"`{name}` must hold at least one sample, got shape {array.shape}")
    array = array.astype(np.float32, copy=False)
    if not array.size:
        return array
    # The extremes are NaN or infinite exactly when some entry is, so two passes check both
    # finiteness and the range.
    found_low, found_high = float(array.min()), float(array.max())
    if not (math.isfinite(found_low) and math.isfinite(found_high)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValidationError(f"`{name}` must be finite, got {bad} NaN or infinite entries")
    if value_range is not None:
        low, high = value_range
        # A float32 round-off of the bounds is not an error.
        tolerance = 1e-6 * max(1.0, abs(low), abs(high))
        if found_low < low - tolerance or found_high > high + tolerance:
            raise ValidationError(
                f"`{name}` must lie in the model's input range [{low:g}, {high:g}], "
                f"got values in [{found_low:g}, {found_high:g}]"
            )
    return array


def check_labels(y: Any, name: str = "y", *, n_samples: int | None = None, n_classes: int | None = None) -> np.ndarray:
    """Check integer class labels and return them as an int64 vector.

    Raises:
        InputTypeError: ``y`` is not an integer array (floats with integral values are accepted).
        ValidationError: wrong length, or labels outside ``0 .. n_classes - 1``.
    """
    if y is None or isinstance(y, (str, bytes)):
        raise InputTypeError(f"`{name}` must be an integer array, got {type(y).__name__}")
    labels = as_real_array(y, name, what="integer class labels")
    if labels.ndim != 1:
        raise ValidationError(f"`{name}` must be one-dimensional (n,), got shape {labels.shape}")
    integral = np.issubdtype(labels.dtype, np.integer)
    if not integral and not (np.all(np.isfinite(labels)) and np.all(labels == np.round(labels))):
        raise ValidationError(f"`{name}` must hold integer class labels, got non-integral values")
    labels = labels.astype(np.int64)
    if n_samples is not None and labels.shape[0] != n_samples:
        raise ValidationError(f"`{name}` must have {n_samples} labels (one per input), got {labels.shape[0]}")
    if labels.size and labels.min() < 0:
        raise ValidationError(f"`{name}` must hold labels in 0..k-1, got {int(labels.min())}")
    if n_classes is not None and labels.size and labels.max() >= n_classes:
        raise ValidationError(
            f"`{name}` must hold labels in 0..{n_classes - 1} for a {n_classes}-class model, got {int(labels.max())}"
        )
    return labels


def count_classes(labels: np.ndarray, name: str = "y") -> int:
    """The number of classes ``k`` of checked labels that must use every value in ``0 .. k-1``.

    Counts with ``np.unique`` (memory of the order of ``len(labels)``), never with
    ``arange(max + 1)``: one huge label must not make bastion allocate per possible label.

    Raises:
        ValidationError: no labels, or a value in ``0 .. max`` that never occurs.
    """
    present = np.unique(labels)
    if present.size == 0:
        raise ValidationError(f"`{name}` must hold at least one label")
    n_classes = int(present[-1]) + 1
    if present.size != n_classes:
        shown = _missing_labels(present, 10)
        more = ", ..." if n_classes - present.size > len(shown) else ""
        raise ValidationError(
            f"`{name}` must use every label in 0..{n_classes - 1}, classes [{', '.join(map(str, shown))}{more}] "
            "never occur"
        )
    return n_classes


def _missing_labels(present: np.ndarray, at_most: int) -> list[int]:
    """The first ``at_most`` values of ``0 .. present[-1]`` absent from sorted unique ``present``."""
    bounds = np.concatenate([[-1], present.astype(np.int64)])
    missing: list[int] = []
    for i in np.flatnonzero(np.diff(bounds) > 1)[:at_most]:
        start, stop = int(bounds[i]) + 1, int(bounds[i + 1])
        missing += range(start, min(stop, start + at_most))
        if len(missing) >= at_most:
            break
    return missing[:at_most]
