"""Build a corpus file in the test's temporary folder, scan it, and check nothing ran."""

from __future__ import annotations

import pytest

import bastion.scan
from bastion.scan import ScanReport

from .corpus import CLEAN, MALICIOUS, Case

CASES = {case.name: case for case in MALICIOUS + CLEAN}


@pytest.fixture()
def scan_case(tmp_path):
    """``scan_case(name) -> ScanReport``: build the named corpus file, scan it, assert the marker never appears."""
    marker = tmp_path / "MARKER"

    def run(name: str) -> ScanReport:
        case: Case = CASES[name]
        folder = tmp_path / name
        folder.mkdir()
        report = bastion.scan(case.build(folder, marker))
        assert not marker.exists(), f"{name}: the payload ran"
        return report

    return run


def assert_caught(report: ScanReport, case: Case) -> None:
    """The case's check fired at the case's severity."""
    fired = {(f.check, f.severity) for f in report.findings}
    assert (case.check, case.severity) in fired, f"{case.name}: expected {case.check} {case.severity}, got {fired}"
