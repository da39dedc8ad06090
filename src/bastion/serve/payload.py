"""Reading a prediction request's body safely: JSON or ``.npy``, with limits, never pickle.

Both formats end in :func:`bastion.validation.check_inputs` against the model's sample
shape and input range, so a malformed body is a :class:`PayloadError` with a status (413
for too much, 415 for an unknown content type, 422 for anything else), never a crash.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from bastion.exceptions import BastionError
from bastion.validation import check_inputs

try:  # the serve extra installs orjson (several times faster); json is the fallback
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - exercised only without the extra
    _loads = json.loads

JSON = "application/json"
NPY = "application/x-npy"
NPY_DTYPE_KINDS = "fiu"


class PayloadError(Exception):
    """A request body the gateway refuses: ``status`` and a message for the client."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _json_inputs(body: bytes) -> Any:
    try:
        document = _loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PayloadError(422, "invalid_json", f"the body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise PayloadError(422, "invalid_json", "the body nests too deeply") from error
    if not isinstance(document, dict):
        raise PayloadError(
            422, "invalid_body", f'the body must be an object {{"inputs": [...]}}, got a {type(document).__name__}'
        )
    unknown = sorted(set(document) - {"inputs"})
    if unknown:
        raise PayloadError(422, "unknown_field", f"unknown field(s) {unknown}; the body holds only 'inputs'")
    if "inputs" not in document:
        raise PayloadError(422, "missing_field", "the body lacks 'inputs', a batch of samples (n, *input_shape)")
    inputs = document["inputs"]
    if not isinstance(inputs, list):
        raise PayloadError(422, "invalid_inputs", f"'inputs' must be a list of samples, got a {type(inputs).__name__}")
    try:
        array = np.asarray(inputs)
    except (ValueError, TypeError, RecursionError) as error:
        raise PayloadError(
            422, "invalid_inputs", f"'inputs' must be a rectangular array of numbers: {error}"
        ) from error
    if array.dtype == object or array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise PayloadError(422, "invalid_inputs", f"'inputs' must hold numbers only, got {array.dtype} values")
    return array


def _npy_inputs(body: bytes) -> np.ndarray:
    handle = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError, TypeError, EOFError) as error:
        raise PayloadError(422, "invalid_npy", f"the body is not a valid .npy array: {error}") from error
    if dtype.hasobject or dtype.kind not in NPY_DTYPE_KINDS:
        raise PayloadError(422, "invalid_npy", f"the .npy array must be float or int, got dtype {dtype}")
    count = int(np.prod(shape, dtype=np.int64))
    available = len(body) - handle.tell()
    if count * dtype.itemsize != available:
        raise PayloadError(
            422,
            "invalid_npy",
            f"the .npy header declares {shape} {dtype} ({count * dtype.itemsize} bytes), body has {available}",
        )
    data = np.frombuffer(body, dtype=dtype, count=count, offset=handle.tell())
    # A writable copy: the body's bytes are read-only and torch refuses to share them.
    return data.reshape(shape, order="F" if fortran else "C").copy()


def parse_inputs(
    body: bytes,
    content_type: str,
    *,
    sample_shape: tuple[int, ...],
    clip: tuple[float, float],
    max_batch: int,
) -> np.ndarray:
    """The batch a request carries, validated, as ``(n, *sample_shape)`` float32.

    Raises:
        PayloadError: 415 for another content type, 413 above ``max_batch`` inputs, 422 for
            a malformed body or inputs of the wrong shape, outside ``clip``, NaN or Inf.
    """
    media = content_type.split(";")[0].strip().lower()
    if media == JSON:
        array = _json_inputs(body)
    elif media == NPY:
        array = _npy_inputs(body)
    else:
        raise PayloadError(415, "unsupported_media_type", f"send {JSON} or {NPY}, got {media or 'no content type'!r}")
    if array.ndim >= 1 and array.shape[0] > max_batch:
        raise PayloadError(413, "batch_too_large", f"a batch holds at most {max_batch} inputs, got {array.shape[0]}")
    try:
        return check_inputs(array, "inputs", sample_shape=sample_shape, value_range=clip)
    except BastionError as error:
        raise PayloadError(422, "invalid_inputs", str(error)) from error
