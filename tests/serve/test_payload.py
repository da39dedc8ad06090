"""Request bodies: JSON and .npy parsed safely, with limits."""

from __future__ import annotations

import io

import numpy as np
import pytest

from bastion.serve.payload import PayloadError, parse_inputs

SHAPE = (2, 2)


def _parse(body: bytes, content_type: str = "application/json", max_batch: int = 8):
    return parse_inputs(body, content_type, sample_shape=SHAPE, clip=(0.0, 1.0), max_batch=max_batch)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_json_and_npy_give_the_same_float32_batch():
    x = np.full((3, *SHAPE), 0.25, dtype=np.float64)
    from_json = _parse(b'{"inputs": ' + str(x.tolist()).encode() + b"}")
    from_npy = _parse(_npy(x), "application/x-npy")
    assert from_json.dtype == from_npy.dtype == np.float32
    np.testing.assert_array_equal(from_json, from_npy)


def test_fortran_ordered_npy_reads_back_the_same_values():
    x = np.asfortranarray(np.random.default_rng(0).uniform(size=(3, *SHAPE)))
    np.testing.assert_allclose(_parse(_npy(x), "application/x-npy"), x, rtol=1e-6)


@pytest.mark.parametrize(
    "body",
    [
        b"\x93NUMPY\x01\x00",  # header cut short
        b"not npy at all",
        _npy(np.zeros((3, 2, 2)))[:-8],  # data shorter than the header says
        _npy(np.array(["a", "b"])),
        _npy(np.zeros((1, 2, 2), dtype=complex)),
    ],
)
def test_malformed_npy_is_422(body):
    with pytest.raises(PayloadError) as caught:
        _parse(body, "application/x-npy")
    assert caught.value.status == 422


def test_a_batch_above_the_limit_is_413():
    with pytest.raises(PayloadError) as caught:
        _parse(_npy(np.zeros((9, *SHAPE))), "application/x-npy")
    assert caught.value.status == 413


def test_inputs_outside_the_range_are_422_naming_it():
    with pytest.raises(PayloadError, match=r"input range \[0, 1\]") as caught:
        _parse(b'{"inputs": [[[0, 0], [0, 3]]]}')
    assert caught.value.status == 422
