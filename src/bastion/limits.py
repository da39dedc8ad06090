"""Resource limits on what files and arguments declare, checked before anything is allocated.

A file of a few kilobytes can declare an array of 10^11 elements, a layer of 10^9 units or
a loop of 10^12 iterations. bastion compares every such declared size with a limit *before*
allocating or running anything, so an untrusted input fails fast with a
:class:`~bastion.exceptions.ValidationError` that names it, instead of exhausting memory.

The limits (and how to raise them when you trust an input that really is that large):

- ``max_bytes``: the largest single buffer bastion builds from a declared size (an array
  of a dataset, the tensors of a model, a buffer sized by hyperparameters), 2 GiB by
  default; environment variable ``BASTION_MAX_BYTES``, CLI ``bastion --max-bytes``, or
  :func:`set_limits`.
- ``max_json_depth``: nesting depth of a ``model.json`` spec (32).
- ``max_loop_iterations``: the trip count of an ONNX ``Loop`` (10^6); shapes a graph builds
  at run time (``ConstantOfShape``, ``Expand``, ``Tile``, ...) are bounded by ``max_bytes``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from bastion.exceptions import ValidationError

_GIB = 1 << 30
_ENVIRONMENT = "BASTION_MAX_BYTES"


class LimitWarning(UserWarning):
    """A limit setting that bastion could not use (the default applies instead)."""


@dataclass(frozen=True)
class Limits:
    """The limits in force (see the module docstring)."""

    max_bytes: int = 2 * _GIB
    max_json_depth: int = 32
    max_loop_iterations: int = 1_000_000


def _from_environment() -> Limits:
    raw = os.environ.get(_ENVIRONMENT)
    if raw is None:
        return Limits()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        # Read at import, before any caller could catch an error: keep the default, say so.
        warnings.warn(
            f"environment variable {_ENVIRONMENT} must be a positive number of bytes, got {raw!r}; "
            f"using the default {Limits().max_bytes}",
            LimitWarning,
            stacklevel=2,
        )
        return Limits()
    return Limits(max_bytes=value)


_current = _from_environment()


def limits() -> Limits:
    """The limits in force now."""
    return _current


def set_limits(**changes: int) -> Limits:
    """Change limits for this process (e.g. ``set_limits(max_bytes=16 * 2**30)``); return the old ones.

    Raises:
        ValidationError: an unknown limit, or a value that is not a positive int.
    """
    global _current
    previous = _current
    for name, value in changes.items():
        if name not in Limits.__dataclass_fields__:
            raise ValidationError(f"unknown limit {name!r}; the limits are {sorted(Limits.__dataclass_fields__)}")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValidationError(f"`{name}` must be a positive int, got {value!r}")
    _current = replace(_current, **changes)
    return previous


@contextmanager
def limited(**changes: int) -> Iterator[Limits]:
    """Apply :func:`set_limits` inside a ``with`` block only."""
    previous = set_limits(**changes)
    try:
        yield _current
    finally:
        set_limits(**vars(previous))


def _show(n_bytes: int) -> str:
    return f"{n_bytes / _GIB:.3g} GiB" if n_bytes >= _GIB // 100 else f"{n_bytes} bytes"


def check_allocation(shape: Iterable[int], itemsize: int, what: str) -> int:
    """Check that a buffer of ``shape`` and ``itemsize`` bytes per element fits ``max_bytes``.

    Sizes are multiplied as Python ints, so no declared shape overflows.

    Args:
        shape: the declared dimensions (non-negative ints).
        itemsize: bytes per element.
        what: the file or argument that declared it, for the message.

    Returns:
        The buffer's size in bytes.

    Raises:
        ValidationError: a negative dimension, or more bytes than ``max_bytes``.
    """
    dims = [int(s) for s in shape]
    if any(s < 0 for s in dims):
        raise ValidationError(f"{what}: declares a negative size in shape {tuple(dims)}")
    n_bytes = math.prod(dims) * int(itemsize)
    check_bytes(n_bytes, f"{what} (shape {tuple(dims)})")
    return n_bytes


def check_bytes(n_bytes: int, what: str) -> int:
    """Check that ``n_bytes`` fits ``max_bytes``; the message says how to raise the limit."""
    limit = _current.max_bytes
    if n_bytes > limit:
        raise ValidationError(
            f"{what} would need {_show(n_bytes)}, over bastion's limit of {_show(limit)} per buffer; "
            f"if you trust this input, raise the limit ({_ENVIRONMENT}=<bytes>, bastion --max-bytes, "
            "or bastion.limits.set_limits(max_bytes=...))"
        )
    return n_bytes
