"""TorchScript archives: code members listed; calls outside tensor math flagged."""

from __future__ import annotations

import pytest

from .conftest import CASES, assert_caught


@pytest.mark.parametrize("name", ["torchscript_custom_op", "torchscript_file_access"])
def test_torchscript_technique_is_reported(scan_case, name):
    assert_caught(scan_case(name), CASES[name])


def test_traced_module_is_clean_and_its_code_files_are_listed(scan_case):
    report = scan_case("torchscript")
    assert report.format == "torchscript" and report.findings == ()
    assert any("TorchScript code" in member for member in report.members)
