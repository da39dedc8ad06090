"""``bastion scan``: what a model file would do when loaded, found without loading it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bastion.cli.app import app
from bastion.cli.common import console, reported_errors
from bastion.scan import SEVERITIES, ScanReport, scan
from bastion.validation import check_choice

_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "info": "dim"}


def _table(report: ScanReport) -> Table:
    table = Table(title=f"bastion scan: {escape(report.path)} ({report.format}, {report.size_bytes} bytes)")
    table.add_column("severity")
    table.add_column("where")
    table.add_column("what loading it would do")
    table.add_column("instead")
    for finding in report.findings:
        style = _STYLE[finding.severity]
        table.add_row(
            f"[{style}]{finding.severity}[/]", escape(finding.location), escape(finding.what), escape(finding.instead)
        )
    return table


def _verdict(report: ScanReport, fail_on: str) -> str:
    blocking = report.at_or_above(fail_on)
    checks = ", ".join(report.checks) or "format recognition"
    if blocking:
        return (
            f"[bold red]{escape(report.path)}: do not load it[/]: {len(blocking)} finding(s) at or above {fail_on}, "
            f"worst {report.max_severity}"
        )
    if report.findings:
        return (
            f"[yellow]{escape(report.path)}: nothing at or above {fail_on}[/], {len(report.findings)} lesser "
            f"finding(s) (checked: {checks})"
        )
    return f"[green]{escape(report.path)}: clean[/] (checked: {checks})"


@app.command(
    "scan",
    help=(
        "Inspect model files for what they would do when loaded, without loading them.\n\n"
        "Nothing in the file is unpickled, imported or run. Pickles (bare, protocols 0-5, inside torch.save "
        "checkpoints, legacy torch files and .npy/.npz object arrays, nested in each other) are followed "
        "opcode by opcode to the globals they import and the calls they make; zip archives are checked for "
        "names and flags that make readers disagree; TorchScript code for calls outside tensor math; ONNX "
        "for external data leaving its folder, custom operators, sizes and opset; safetensors headers for "
        "bad offsets; skops files for the types they need trusted; bastion model folders for weights whose "
        "SHA-256 changed. Formats are recognised by content. Exit code 1 when a finding is at or above "
        "--fail-on, so CI can gate on it."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion scan model/\n\n"
        "  bastion scan checkpoint.pt pytorch_model.bin --fail-on medium\n\n"
        "  bastion scan downloads/ --json report.json\n\n"
        "  bastion scan model.onnx --json -"
    ),
)
def scan_command(
    paths: Annotated[list[Path], typer.Argument(help="Model files or folders to scan.", show_default=False)],
    fail_on: Annotated[
        str, typer.Option(help=f"Exit 1 when a finding is at or above this severity: {', '.join(SEVERITIES[::-1])}.")
    ] = "high",
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the reports as JSON to this file ('-': to stdout, without tables)."),
    ] = None,
) -> None:
    """Inspect model files for what they would do when loaded, without loading them."""
    with reported_errors():
        check_choice(fail_on, "--fail-on", SEVERITIES)
        reports = [scan(path) for path in paths]
    records = [
        {**report.to_dict(), "fail_on": fail_on, "refused": bool(report.at_or_above(fail_on))} for report in reports
    ]
    if json_out is not None and str(json_out) == "-":
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
    else:
        for report in reports:
            if report.findings:
                console.print(_table(report))
            console.print(_verdict(report, fail_on), highlight=False)
        if json_out is not None:
            json_out.write_text(json.dumps(records, indent=2) + "\n")
    if any(record["refused"] for record in records):
        raise typer.Exit(1)
