"""Random and truncated bytes through ``bastion.scan`` (in-process hypothesis): a report, never a crash."""

from __future__ import annotations

import io
import pickle
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bastion.scan
from bastion.scan import ScanReport

PREFIXES = [
    b"",
    b"PK\x03\x04",
    b"\x80\x02",
    b"\x80\x05",
    b"\x93NUMPY\x01\x00",
    b"\x10\x00\x00\x00\x00\x00\x00\x00{",
    b"c",
    b"(",
]
SUFFIXES = ["", ".pt", ".pkl", ".onnx", ".safetensors", ".npy", ".skops", ".joblib"]


def _zip_of(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", data)
        archive.writestr("archive/code/x.py", data)
        archive.writestr("schema.json", data[:40])
    return buffer.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_get_a_report(tmp_path, prefix, body, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(prefix + body)
    assert isinstance(bastion.scan(path), ScanReport)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), cut=st.integers(min_value=0, max_value=400))
def test_truncated_and_zipped_pickles_get_a_report(tmp_path, body, cut):
    data = pickle.dumps({"a": [1, 2.0, "x", body], "b": (None, True)}, protocol=4)[:cut] + body
    for name, content in (("cut.pkl", data), ("zipped.pt", _zip_of(data))):
        path = tmp_path / name
        path.write_bytes(content)
        assert isinstance(bastion.scan(path), ScanReport)
