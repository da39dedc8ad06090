"""bastion model folders: the spec's SHA-256 and the data file it names."""

from __future__ import annotations

import json

import pytest

from bastion.models import io

from .conftest import CASES, assert_caught


def test_replaced_weights_are_reported(scan_case):
    assert_caught(scan_case("folder_replaced_weights"), CASES["folder_replaced_weights"])


@pytest.mark.parametrize("name", ["zoo_safetensors_folder", "skops_folder", "onnx_folder"])
def test_folders_written_by_bastion_are_clean(scan_case, name):
    report = scan_case(name)
    assert report.format == "bastion-folder" and report.findings == ()
    assert "bastion spec and SHA-256" in report.checks


def test_spec_naming_a_file_outside_the_folder_is_high(tmp_path, scan_case):
    import bastion.scan

    folder = CASES["zoo_safetensors_folder"].build(tmp_path, tmp_path / "MARKER")
    spec = json.loads((folder / io.SPEC_FILE).read_text())
    spec["file"] = "../elsewhere.safetensors"
    (folder / io.SPEC_FILE).write_text(json.dumps(spec))
    assert "folder.bad-file" in {f.check for f in bastion.scan(folder).findings}
