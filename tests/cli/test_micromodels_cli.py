from __future__ import annotations

import json

from tests.cli.conftest import invoke

from bastion.data import http_traffic, read_access_log, write_access_log


def test_generate_writes_clean_log_and_json(tmp_path):
    out, report = tmp_path / "clean.log", tmp_path / "r.json"
    result = invoke(
        "defend", "micromodels", "--generate", 6000, "--slice-size", 1000, "--backend", "serial",
        "--out", out, "--json", report,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(report.read_text())
    assert record["n_slices"] == 6
    assert record["recall"] > 0.7
    assert len(read_access_log(out)) == 6000 - record["n_removed"]
    assert "requests as suspicious" in " ".join(result.output.split())


def test_traffic_log_is_sanitized_without_ground_truth(tmp_path):
    log = write_access_log(http_traffic(3000, attack_rate=0.02, seed=4), tmp_path / "access.log")
    result = invoke(
        "defend", "micromodels", "--traffic", log, "--slice-size", 500, "--threshold", 0.5,
        "--sensor", "payl", "--backend", "serial", "--json", tmp_path / "r.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["precision"] is None and record["n_train"] == 3000


def test_malformed_log_line_is_one_error_line(tmp_path):
    log = tmp_path / "bad.log"
    log.write_text('1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 10\nnot a log line\n')
    result = invoke("defend", "micromodels", "--traffic", log)
    assert result.exit_code == 2
    assert "line 2" in result.output


def test_threshold_outside_unit_interval_is_refused():
    result = invoke("defend", "micromodels", "--generate", 100, "--threshold", 1.5)
    assert result.exit_code == 2
    assert "--threshold" in result.output


def test_traffic_and_generate_together_are_refused(tmp_path):
    result = invoke("defend", "micromodels", "--generate", 100, "--traffic", tmp_path / "x.log")
    assert result.exit_code == 2
    assert "exactly one" in result.output
