"""Findings and reports: severities, ordering, JSON."""

from __future__ import annotations

import json

import pytest

from bastion.exceptions import ValidationError
from bastion.scan.findings import Finding, ScanReport, severity_rank, sort_findings


def _report(*severities: str) -> ScanReport:
    findings = tuple(Finding(s, f"check.{s}", "does things", member="m", offset_bytes=3) for s in severities)
    return ScanReport(path="p", format="pickle", size_bytes=10, findings=sort_findings(findings))


def test_unknown_severity_is_refused():
    with pytest.raises(ValidationError, match="critical"):
        severity_rank("severe")


def test_findings_are_sorted_worst_first():
    assert [f.severity for f in _report("info", "critical", "medium").findings] == ["critical", "medium", "info"]


def test_at_or_above_selects_by_severity():
    report = _report("info", "high", "medium")
    assert [f.severity for f in report.at_or_above("medium")] == ["high", "medium"]


def test_info_findings_leave_a_report_clean():
    assert _report("info").clean and not _report("medium").clean


def test_to_dict_is_json_with_location_and_verdict():
    data = json.loads(json.dumps(_report("high").to_dict()))
    assert data["findings"][0]["location"] == "m @ byte 3"
    assert data["max_severity"] == "high" and data["clean"] is False
