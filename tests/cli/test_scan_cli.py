"""``bastion scan``: tables, JSON, and exit codes CI can gate on."""

from __future__ import annotations

import json

import numpy as np
from tests.scan.corpus import torch_zip_payload, zip_hidden_protocol0

from .conftest import invoke


def test_clean_folder_exits_0_with_a_clean_verdict(trained_folder):
    result = invoke("scan", trained_folder)
    assert result.exit_code == 0, result.output
    assert "clean" in result.output


def test_malicious_checkpoint_exits_1_and_names_the_call(tmp_path):
    path = torch_zip_payload(tmp_path, tmp_path / "MARKER")
    result = invoke("scan", path)
    assert result.exit_code == 1
    assert "do not load it" in result.output and "critical" in result.output
    assert not (tmp_path / "MARKER").exists()


def test_fail_on_critical_still_refuses_the_critical_payload_behind_a_hidden_pickle(tmp_path):
    path = zip_hidden_protocol0(tmp_path, tmp_path / "MARKER")
    assert invoke("scan", path, "--fail-on", "critical").exit_code == 1


def test_medium_findings_pass_at_high_and_fail_at_medium(tmp_path):
    path = tmp_path / "strings.npy"
    np.save(path, np.array(["a"], dtype=object), allow_pickle=True)
    assert invoke("scan", path).exit_code == 0
    assert invoke("scan", path, "--fail-on", "medium").exit_code == 1


def test_json_to_stdout_holds_one_report_per_path(tmp_path, trained_folder):
    path = torch_zip_payload(tmp_path, tmp_path / "MARKER")
    result = invoke("scan", trained_folder, path, "--json", "-")
    records = json.loads(result.output)
    assert [r["refused"] for r in records] == [False, True]
    assert records[1]["findings"][0]["severity"] == "critical"


def test_json_file_is_written_next_to_the_table(tmp_path, trained_folder):
    out = tmp_path / "scan.json"
    result = invoke("scan", trained_folder, "--json", out)
    assert result.exit_code == 0 and "clean" in result.output
    assert json.loads(out.read_text())[0]["clean"] is True


def test_missing_path_exits_2_with_one_line(tmp_path):
    result = invoke("scan", tmp_path / "missing.pt")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "not found" in result.output


def test_unknown_fail_on_exits_2(trained_folder):
    result = invoke("scan", trained_folder, "--fail-on", "severe")
    assert result.exit_code == 2 and "--fail-on" in result.output
