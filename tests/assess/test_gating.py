"""--fail-under / --fail-over: exit 1 when a metric crosses its threshold, 2 on a bad gate."""

from __future__ import annotations

import pytest

from bastion.assess.gating import Gate, check_gates, parse_gate
from bastion.exceptions import ValidationError

from .conftest import invoke


def test_a_gate_parses_the_metric_and_the_threshold():
    assert parse_gate("robust_accuracy@0.1=0.5", "under") == Gate("robust_accuracy@0.1", 0.5, "under")
    assert parse_gate("membership_tpr@0.01[lira]=0.2", "over").metric == "membership_tpr@0.01[lira]"


@pytest.mark.parametrize("text", ["robust_accuracy@0.1", "=0.5", "robust_accuracy@0.1=high"])
def test_a_malformed_gate_is_refused(text):
    with pytest.raises(ValidationError, match="--fail-under"):
        parse_gate(text, "under")


def test_gates_fail_below_under_and_above_over():
    metrics = {"a": 0.4, "b": 0.95}
    assert check_gates(metrics, [Gate("a", 0.5, "under")]) == ["a = 0.4 (a < 0.5)"]
    assert check_gates(metrics, [Gate("a", 0.3, "under"), Gate("b", 0.99, "over")]) == []
    assert check_gates(metrics, [Gate("b", 0.9, "over")]) == ["b = 0.95 (b > 0.9)"]


def test_an_unmeasured_metric_lists_the_measured_ones():
    with pytest.raises(ValidationError, match="did not measure; measured metrics: a, b"):
        check_gates({"a": 0.1, "b": 0.2}, [Gate("c", 0.5, "under")])


def _assess(cache, out, *gates):
    return invoke("assess", "--quick", "--workers", "2", "--cache", cache, "--out", out, "--no-progress", *gates)


def test_the_cli_exits_1_when_a_gate_fails(quick_report, quick_results, assess_cache, tmp_path):
    robust = quick_results["metrics"]["robust_accuracy@0.1"]
    result = _assess(assess_cache, tmp_path, "--fail-under", f"robust_accuracy@0.1={robust + 0.01}")
    assert result.exit_code == 1, result.output
    assert "gate failed: robust_accuracy@0.1" in result.output


def test_the_cli_exits_0_when_every_gate_passes(quick_report, quick_results, assess_cache, tmp_path):
    fidelity = quick_results["metrics"]["extraction_fidelity@300"]
    result = _assess(
        assess_cache,
        tmp_path,
        "--fail-under",
        "robust_accuracy@0.1=0",
        "--fail-over",
        f"extraction_fidelity@300={fidelity}",
    )
    assert result.exit_code == 0, result.output
    assert "all 2 gates passed" in result.output


def test_the_cli_exits_2_on_an_unknown_metric(quick_report, assess_cache, tmp_path):
    result = _assess(assess_cache, tmp_path, "--fail-over", "extraction_fidelity@5000=0.9")
    assert result.exit_code == 2
    assert "extraction_fidelity@300" in result.output


def test_the_gated_rerun_reads_every_cell_from_the_cache(quick_report, assess_cache, tmp_path):
    result = invoke("assess", "--quick", "--cache", assess_cache, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "(cached)" in result.output
    assert (tmp_path / "results.json").read_text() == (quick_report / "results.json").read_text()
