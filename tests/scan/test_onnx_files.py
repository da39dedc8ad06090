"""ONNX: external data outside the folder, custom domains, sizes, opset."""

from __future__ import annotations

import pytest

import bastion.scan

from .conftest import CASES, assert_caught
from .corpus import _onnx_model


@pytest.mark.parametrize(
    "name", ["onnx_external_traversal", "onnx_external_absolute", "onnx_custom_domain", "onnx_size_mismatch"]
)
def test_onnx_technique_is_reported(scan_case, name):
    assert_caught(scan_case(name), CASES[name])


@pytest.mark.parametrize("name", ["onnx_file", "onnx_folder"])
def test_exported_onnx_is_clean(scan_case, name):
    assert scan_case(name).findings == ()


def test_external_data_inside_the_folder_is_accepted(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\x00" * 12)
    path = tmp_path / "m.onnx"
    path.write_bytes(_onnx_model(location="w.bin").SerializeToString())
    report = bastion.scan(path)
    assert report.findings == ()
    assert any("external file 'w.bin'" in member for member in report.members)


def test_external_data_missing_is_medium(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(_onnx_model(location="w.bin").SerializeToString())
    assert [(f.check, f.severity) for f in bastion.scan(path).findings] == [("onnx.external-missing", "medium")]


def test_a_second_model_appended_to_the_file_is_reported(tmp_path):
    # Protobuf merges concatenated messages: the appended copy silently doubles the graph.
    path = tmp_path / "m.onnx"
    path.write_bytes(_onnx_model().SerializeToString() + _onnx_model(domain="com.evil").SerializeToString())
    assert "onnx.size-mismatch" in {f.check for f in bastion.scan(path).findings}


def test_opset_is_listed(scan_case):
    report = scan_case("onnx_file")
    assert any("opsets ai.onnx" in member for member in report.members)
