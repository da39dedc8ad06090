"""The public entry points: ``bastion.scan(path)`` and ``check_before_load``."""

from __future__ import annotations

import pytest

import bastion
import bastion.scan
from bastion.exceptions import InputTypeError, UnsafeFileError, ValidationError
from bastion.scan import ScanReport, check_before_load

from .conftest import CASES


def test_bastion_scan_is_callable_and_still_the_package(tmp_path):
    path = CASES["torch_state_dict"].build(tmp_path, tmp_path / "MARKER")
    assert isinstance(bastion.scan(path), ScanReport)
    assert bastion.scan.scan(path).format == "torch-zip"


def test_check_before_load_refuses_a_finding_at_or_above_high(tmp_path):
    path = CASES["torch_zip_payload"].build(tmp_path, tmp_path / "MARKER")
    with pytest.raises(UnsafeFileError, match="critical"):
        check_before_load(path)
    assert not (tmp_path / "MARKER").exists()


def test_check_before_load_returns_the_report_of_a_clean_file(tmp_path):
    path = CASES["zoo_safetensors_folder"].build(tmp_path, tmp_path / "MARKER")
    assert check_before_load(path).findings == ()


def test_check_before_load_lets_a_medium_finding_pass_at_high_but_not_at_medium(tmp_path):
    path = CASES["zip_traversal_name"].build(tmp_path, tmp_path / "MARKER")
    with pytest.raises(UnsafeFileError):
        check_before_load(path, fail_on="critical")
    hidden = CASES["zip_hidden_protocol0"].build(tmp_path, tmp_path / "MARKER")
    with pytest.raises(UnsafeFileError):
        check_before_load(hidden, fail_on="medium")


def test_check_before_load_refuses_an_unknown_fail_on(tmp_path):
    with pytest.raises(ValidationError, match="severity"):
        check_before_load(tmp_path, fail_on="severe")


def test_scan_refuses_a_missing_path_and_a_non_path(tmp_path):
    with pytest.raises(ValidationError, match="not found"):
        bastion.scan(tmp_path / "missing.pt")
    with pytest.raises(InputTypeError, match="path"):
        bastion.scan(42)
