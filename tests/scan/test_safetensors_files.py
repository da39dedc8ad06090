"""safetensors headers: parse, sizes, offsets."""

from __future__ import annotations

import json
import struct

import pytest

import bastion.scan

from .conftest import CASES, assert_caught

SAFETENSORS_CASES = [
    "safetensors_header_too_large",
    "safetensors_overlap",
    "safetensors_out_of_bounds",
    "safetensors_bad_json",
]


@pytest.mark.parametrize("name", SAFETENSORS_CASES)
def test_safetensors_technique_is_reported(scan_case, name):
    assert_caught(scan_case(name), CASES[name])


def test_file_written_by_safetensors_is_clean(scan_case):
    report = scan_case("safetensors_file")
    assert report.findings == () and "2 tensors" in report.members[0]


def test_duplicate_key_is_reported(tmp_path):
    text = (
        b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], '
        b'"data_offsets": [0, 4]}}'
    )
    path = tmp_path / "dup.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"\x00" * 4)
    (finding,) = bastion.scan(path).findings
    assert finding.check == "safetensors.bad-header" and "twice" in finding.what


def test_shape_that_disagrees_with_the_byte_count_is_reported(tmp_path):
    text = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "shape.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"\x00" * 8)
    (finding,) = bastion.scan(path).findings
    assert finding.check == "safetensors.bad-tensor" and "needs 12" in finding.what
