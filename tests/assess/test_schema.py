"""results.json follows its versioned JSON Schema, shipped in the package."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from bastion.assess.schema import SCHEMA_VERSION, load_schema


def test_the_schema_is_itself_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_results_json_validates_against_the_schema(quick_results):
    jsonschema.validate(quick_results, load_schema(), cls=jsonschema.Draft202012Validator)
    assert quick_results["schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    "break_it",
    [
        lambda r: r.pop("metrics"),
        lambda r: r["summary"][0].update(technique="T0043"),
        lambda r: r["cells"][0].update(status="done"),
        lambda r: r["model"].update(sha256="not-a-hash"),
        lambda r: r.update(extra=1),
    ],
    ids=["missing metrics", "bad ATLAS id", "unknown status", "bad sha", "unknown field"],
)
def test_the_schema_refuses_broken_results(quick_results, break_it):
    broken = copy.deepcopy(quick_results)
    break_it(broken)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, load_schema(), cls=jsonschema.Draft202012Validator)


def test_results_hold_the_model_sha256_and_every_section(quick_results):
    assert len(quick_results["model"]["sha256"]) == 64
    sections = {cell["section"] for cell in quick_results["cells"]}
    assert sections == {"evasion", "duplication", "poisoning", "gateway", "model_file"}
    assert quick_results["counts"]["failed"] == 0
    assert {"clean_accuracy", "robust_accuracy@0.1", "extraction_fidelity@300"} <= set(quick_results["metrics"])


def test_every_finding_carries_an_atlas_technique_and_defenses_a_mitigation(quick_results):
    for row in quick_results["summary"]:
        assert row["technique"].startswith("AML.T")
        assert row["best_defense"] is None or row["mitigation"].startswith("AML.M")
