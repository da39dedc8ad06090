"""joblib's arrays: raw bytes written between a pickle's opcodes.

``joblib.dump`` pickles each numpy array as a ``NumpyArrayWrapper`` (its shape, dtype, order
and alignment) and writes the array's data straight after the wrapper's ``BUILD`` opcode:
raw bytes (after one padding-length byte and the padding, when aligned) or, for object
arrays, a whole nested pickle. To read on past an array, the scan works out from the
wrapper's state how many bytes the data takes, or that a pickle follows. The dtype is
rebuilt from its type string alone (``numpy.dtype("f8")``), which parses text and runs
nothing from the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

WRAPPERS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
}


@dataclass(frozen=True)
class ArrayLayout:
    """What follows a wrapper's BUILD: ``data_bytes`` of raw data, or (``nested_pickle``) a pickle."""

    nested_pickle: bool
    data_bytes: int = 0
    aligned: bool = False


def _state(items: list) -> dict[str, Any]:
    return {key: value for key, value in zip(items[::2], items[1::2]) if isinstance(key, str)}


def layout(wrapper_key: tuple[str, str] | None, state: Any) -> ArrayLayout | None:
    """The data layout a ``NumpyArrayWrapper`` state announces, or None when it is not one.

    Args:
        wrapper_key: ``(module, name)`` of the class of the object being built, if a global.
        state: the symbolic dict the BUILD opcode applies (a ``Seq`` of key, value pairs).

    Raises:
        ValueError: the state is a wrapper's but its shape or dtype cannot be read.
    """
    if wrapper_key not in WRAPPERS:
        return None
    fields = _state(getattr(state, "items", []))
    dtype_call = fields.get("dtype")
    code = getattr(getattr(dtype_call, "args", None), "items", [None])[0]
    shape = getattr(fields.get("shape"), "items", None)
    if not isinstance(code, str) or shape is None or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"a joblib array wrapper with an unreadable shape or dtype ({shape!r}, {code!r})")
    try:
        dtype = np.dtype(code)
    except TypeError as error:
        raise ValueError(f"a joblib array of unknown dtype {code!r}") from error
    if dtype.hasobject:
        return ArrayLayout(nested_pickle=True)
    aligned = isinstance(fields.get("numpy_array_alignment_bytes"), int)
    return ArrayLayout(nested_pickle=False, data_bytes=math.prod(shape) * dtype.itemsize, aligned=aligned)
