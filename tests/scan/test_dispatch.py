"""Format recognition by content, folders, and unknown files."""

from __future__ import annotations

import pickle

import pytest

import bastion.scan

from .conftest import CASES
from .corpus import CLEAN, _System


@pytest.mark.parametrize("name", [case.name for case in CLEAN])
def test_clean_file_of_every_format_has_no_finding(scan_case, name):
    assert scan_case(name).findings == ()


def test_pickle_renamed_safetensors_is_recognised_as_a_pickle(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(pickle.dumps(_System(tmp_path / "MARKER"), protocol=4))
    report = bastion.scan(path)
    assert report.format == "pickle" and report.max_severity == "critical"


def test_unknown_file_gets_one_info_finding(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n")
    report = bastion.scan(path)
    assert [f.check for f in report.findings] == ["format.unknown"] and report.clean


def test_plain_folder_scans_every_file(tmp_path):
    CASES["zoo_safetensors_folder"].build(tmp_path, tmp_path / "MARKER")
    (tmp_path / "extra.pkl").write_bytes(pickle.dumps(_System(tmp_path / "MARKER"), protocol=2))
    report = bastion.scan(tmp_path)
    assert report.format == "folder"
    assert any(f.member == "extra.pkl" and f.severity == "critical" for f in report.findings)
    assert not (tmp_path / "MARKER").exists()
