"""Model file: what ``bastion scan`` finds in the assessed model's files (logic corruption).

One cell: the model's saved files (what every other cell loads) are written to a temporary
folder and scanned with :func:`bastion.scan`. The section reports the findings, or a clean
bill listing the checks that ran. A model bastion cannot save as files (a torch module
outside the zoo) has nothing to scan: the cell is skipped with that reason.
"""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path
from typing import Any

from bastion.assess.atlas import mitigation, technique
from bastion.assess.registry import Cell, CellUnavailableError, Figure, Section, cell_function, register_section
from bastion.assess.sections.common import done

SECTION = "model_file"
FUNCTION = "model_file.scan"


def plan(config: Any, profile: Any) -> list[Cell]:
    """The one scan cell (a fraction of a second)."""
    return [Cell(f"{SECTION}/scan", SECTION, FUNCTION, "bastion scan of the model's files", {}, cost=0.1)]


@cell_function(FUNCTION)
def scan_cell(context: Any) -> dict[str, Any]:
    """Scan the model's saved files; the report without its (temporary) path and timing."""
    import bastion.scan

    files = context.target.files
    if files is None:
        raise CellUnavailableError(
            "the model cannot be saved as bastion model files (not a zoo, scikit-learn or ONNX model), so there is "
            "no file to scan; export it to ONNX to have it scanned"
        )
    with tempfile.TemporaryDirectory(prefix="bastion-scan-") as folder:
        for name, data in files.items():
            (Path(folder) / name).write_bytes(data)
        report = bastion.scan(folder).to_dict()
    return {key: report[key] for key in ("format", "size_bytes", "findings", "checks", "members", "clean")} | {
        "max_severity": report["max_severity"]
    }


def _results(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record["result"] for record in done(records, FUNCTION)]


def summarize(records: list[dict[str, Any]], config: Any) -> list[dict[str, Any]]:
    """One row: the findings at or above medium, or a clean bill."""
    rows = []
    for result in _results(records):
        serious = [f for f in result["findings"] if f["severity"] != "info"]
        if serious:
            verdict = (
                f"bastion scan finds {len(serious)} problem(s) in the model's files, worst {result['max_severity']}: "
                f"{serious[0]['what']}"
            )
        else:
            verdict = f"bastion scan finds nothing wrong in the model's files (checked: {', '.join(result['checks'])})."
        rows.append(
            {
                "family": SECTION,
                "threat": "logic corruption (tampered model file)",
                "attack": technique("model_file")["label"],
                "technique": technique("model_file")["id"],
                "metric": "findings at or above medium",
                "higher_is_better": False,
                "undefended": None,
                "best_defense": mitigation("scan")["label"],
                "mitigation": mitigation("scan")["id"],
                "defended": None,
                "cost": None,
                "verdict": verdict,
                "notes": [f"{f['severity']} at {f['location']}: {f['what']}" for f in result["findings"]],
            }
        )
    return rows


def metrics(records: list[dict[str, Any]], config: Any) -> dict[str, float]:
    """``model_file_findings@<severity>``: findings at or above each severity (gate with ``--fail-over``)."""
    from bastion.scan.findings import SEVERITIES, severity_rank

    out: dict[str, float] = {}
    for result in _results(records):
        for level in SEVERITIES:
            floor = severity_rank(level)
            out[f"model_file_findings@{level}"] = float(
                sum(severity_rank(f["severity"]) >= floor for f in result["findings"])
            )
    return out


def _table(result: dict[str, Any]) -> str:
    if not result["findings"]:
        checks = "".join(
            f"<tr><td>{escape(check)}</td><td class='good'>no finding</td></tr>" for check in result["checks"]
        )
        return f"<table><thead><tr><th>check</th><th>result</th></tr></thead><tbody>{checks}</tbody></table>"
    rows = "".join(
        f"<tr><td>{escape(f['severity'])}</td><td><code>{escape(f['location'])}</code></td><td>{escape(f['what'])}"
        f"</td><td>{escape(f['instead'])}</td></tr>"
        for f in result["findings"]
    )
    return (
        "<table><thead><tr><th>severity</th><th>where</th><th>what loading it would do</th><th>instead</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )


def make_figures(records: list[dict[str, Any]], config: Any) -> list[Figure]:
    """The scan's findings (or its clean bill) as a table."""
    return [
        Figure(
            "model-file-scan",
            f"bastion scan of the model's files ({result['format']}, {result['size_bytes']} bytes)",
            _table(result),
            "Static inspection: nothing in the files is unpickled or run. `bastion scan PATH` gives the same report "
            "for any model file; `bastion serve` refuses to start on a finding at or above high.",
            tuple(result["members"]),
        )
        for result in _results(records)
    ]


register_section(Section(SECTION, "Model file", plan, summarize, make_figures, metrics, order=40))
