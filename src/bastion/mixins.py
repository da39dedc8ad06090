"""The two conventions every result and every attack/defense shares, written once.

- :class:`ResultMixin` gives a frozen result dataclass its ``to_dict()``: a JSON-ready dict
  of its fields (numpy arrays and scalars become lists and Python numbers, tuples become
  lists, nested results call their own ``to_dict``, anything else that JSON cannot hold,
  such as a model, becomes its ``repr``). A field declared with
  ``field(metadata={"to_dict": False})`` (an internal object kept for the caller, such as
  an accountant) is left out.
- :class:`ParamsReprMixin` gives an attack or defense its ``__repr__``: the class name and
  its public hyperparameters, ``PGD(eps=0.1, steps=20, ...)``. Private attributes (leading
  ``_``) and learned state (trailing ``_``, scikit-learn's convention) are left out.
- :class:`FittedMixin` gives a defense that trains a model scikit-learn's fitted-state
  rule: reading learned state (``model_``) before ``fit`` raises ``NotFittedError``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from bastion.exceptions import NotFittedError

_JSON_SCALARS = (str, int, float, bool, type(None))


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` into something ``json.dumps`` accepts, recursively."""
    if isinstance(value, _JSON_SCALARS):
        return value
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return repr(value)


class ResultMixin:
    """``to_dict()`` for a (frozen) result dataclass."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields (see :func:`to_jsonable`)."""
        return {
            f.name: to_jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.metadata.get("to_dict", True)
        }


class ParamsReprMixin:
    """``__repr__`` from the public hyperparameters stored by ``__init__``."""

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{key}={_short(value)}"
            for key, value in vars(self).items()
            if not key.startswith("_") and not key.endswith("_")
        )
        return f"{type(self).__name__}({shown})"


def _short(value: Any) -> str:
    # Hyperparameters are small; an array or a callable is named, not dumped.
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    return repr(value)


class _UnfittedAttributeError(NotFittedError, AttributeError):
    # Also an AttributeError, so hasattr() and getattr(..., default) keep working.
    pass


class FittedMixin:
    """scikit-learn's fitted-state rule for defenses that train a model.

    Learned state ends in ``_`` (``model_``, ``history_``) and only exists after ``fit``;
    reading it before raises :class:`~bastion.exceptions.NotFittedError` naming the
    attribute and the call that sets it, instead of a bare ``AttributeError``.
    """

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise _UnfittedAttributeError(
                f"{type(self).__name__} is not fitted: `{name}` exists after fit(...); call fit first"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
