"""The two conventions every result and every attack/defense shares, written once.

- :class:`ResultMixin` gives a frozen result dataclass its ``to_dict()``: a JSON-ready dict
  of its fields (numpy arrays and scalars become lists and Python numbers, tuples become
  lists, nested results call their own ``to_dict``, anything else that JSON cannot hold,
  such as a model, becomes its ``repr``).
- :class:`ParamsReprMixin` gives an attack or defense its ``__repr__``: the class name and
  its public hyperparameters, ``PGD(eps=0.1, steps=20, ...)``. Private attributes (leading
  ``_``) and learned state (trailing ``_``, scikit-learn's convention) are left out.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

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
        return {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


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
