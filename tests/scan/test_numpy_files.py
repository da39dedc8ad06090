"""``.npy``/``.npz``: object arrays carry pickles; numeric arrays are clean."""

from __future__ import annotations

import numpy as np
import pytest

import bastion.scan

from .conftest import CASES, assert_caught


@pytest.mark.parametrize("name", ["npy_object_array", "npz_object_array"])
def test_object_array_payload_is_reported_without_running_it(scan_case, name):
    assert_caught(scan_case(name), CASES[name])


def test_numeric_npz_is_clean(scan_case):
    assert scan_case("numpy_npz").findings == ()


def test_harmless_object_array_is_still_flagged_medium(tmp_path):
    path = tmp_path / "strings.npy"
    np.save(path, np.array(["a", None], dtype=object), allow_pickle=True)
    report = bastion.scan(path)
    assert [f.check for f in report.findings] == ["npy.object-array"]


def test_broken_header_is_reported(tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4'  \n")
    assert [f.check for f in bastion.scan(path).findings] == ["npy.bad-header"]
