"""The gateway section: Knockoff extraction through a real local gateway, per output policy."""

from __future__ import annotations

import json

import jsonschema
import pytest

from bastion.assess import assess
from bastion.assess.schema import load_schema
from bastion.assess.sections import gateway

ONLY_GATEWAY = {
    "evasion": {"enabled": False},
    "duplication": {"enabled": False},
    "poisoning": {"enabled": False},
    "gateway": {"policies": ["probs", "label"], "quota": 40, "batch": 10, "substitute_epochs": 2},
}


@pytest.fixture(scope="module")
def gateway_run(digits, digits_mlp, tmp_path_factory):
    """The gateway section alone on the digits MLP (two policies, a quota of 40 inputs)."""
    assessment = assess(digits_mlp, digits, config=ONLY_GATEWAY, quick=True, backend="serial", cache=False)
    folder = assessment.write_report(tmp_path_factory.mktemp("gateway-report"))
    return assessment, folder


def _cells(assessment):
    return {r["id"]: r for r in assessment.records if r["section"] == "gateway"}


def test_each_policy_is_stolen_through_the_gateway_and_every_query_is_audited(gateway_run):
    cells = _cells(gateway_run[0])
    assert set(cells) == {"gateway/extraction_probs", "gateway/extraction_label"}
    for record in cells.values():
        assert record["status"] == "ok", record["reason"]
        result = record["result"]
        assert result["queries_used"] == result["quota_inputs"] == 40
        # The audit log holds the theft and the extraction API's evaluation of one input.
        assert 40 < result["audited_inputs"] <= 40 + gateway.EVALUATION_QUERIES
        assert 0.0 <= result["fidelity"] <= 1.0 and result["prada"] is True


def test_the_section_reports_metrics_a_summary_verdict_and_figures(gateway_run):
    assessment, folder = gateway_run
    metrics = assessment.metrics()
    assert {"gateway_fidelity@40[probs]", "gateway_fidelity@40[label]", "gateway_alerted[probs]"} <= set(metrics)
    (row,) = [r for r in assessment.summary() if r["family"] == "gateway"]
    assert "PRADA" in row["verdict"] and row["technique"].startswith("AML.T")
    html = (folder / "index.html").read_text()
    assert "Extraction through the gateway, per output policy" in html and "<svg" in html
    assert "labels only" in html


def test_the_results_with_the_gateway_section_validate_against_the_schema(gateway_run):
    results = json.loads((gateway_run[1] / "results.json").read_text())
    jsonschema.validate(results, load_schema(), cls=jsonschema.Draft202012Validator)
    assert results["config"]["gateway"]["quota"] == 40


def test_without_the_serve_extra_the_cells_are_skipped_with_the_reason(digits, digits_mlp, monkeypatch):
    monkeypatch.setattr(gateway, "SERVE_MODULES", ("fastapi", "bastion_module_that_is_not_installed"))
    assessment = assess(digits_mlp, digits, config=ONLY_GATEWAY, quick=True, backend="serial", cache=False)
    cells = _cells(assessment)
    assert cells and all(r["status"] == "skipped" for r in cells.values())
    assert all('pip install "bastion[serve]"' in r["reason"] for r in cells.values())
    assert not any(r["family"] == "gateway" for r in assessment.summary())
