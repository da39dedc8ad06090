"""Model-file scanning: which techniques of the test corpus bastion scan, picklescan and
fickling catch, their false positives on clean files, and the time and peak memory of
scanning a 100 MB ``torch.save`` checkpoint.

The corpus is ``tests/scan/corpus.py``: one malicious file per technique (payloads that would
only create a marker file, checked never to appear) and clean files of every format. A
scanner "catches" a file when it flags it unsafe; picklescan counts as catching on a
dangerous import (its "suspicious" globals are shown apart), fickling on any severity above
``LIKELY_SAFE``. "error" means the scanner stopped on the file without a verdict; "—" means
the technique is outside what the scanner inspects (it scans pickles only).

Peak memory is measured with :mod:`tracemalloc` (Python allocations, which is where a
scanner that reads a file whole would put it), each scanner alone, after a warm-up run.

Run: ``python -m benchmarks.scan`` (under a minute). Writes the ``scan`` section of
docs/benchmarks.md and the technique table of docs/scan.md.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import torch
from fickling.analysis import Severity
from fickling.loader import scan_file as fickling_scan_file
from fickling.loader import scan_zip_archive
from picklescan.scanner import scan_directory_path, scan_file_path
from tests.scan.corpus import CLEAN, MALICIOUS, Case

import bastion.scan
from benchmarks.report import machine, write_section

DOCS = Path(__file__).resolve().parent.parent / "docs"
SCAN_DOC = DOCS / "scan.md"
CHECKPOINT_MB = 100
PICKLESCAN = version("picklescan")
FICKLING = version("fickling")
# What the two pickle scanners look at: pickles, bare or in zip archives (picklescan also .npy).
PICKLE_SCOPE = (
    "reduce",
    "builtins",
    "stack",
    "functools",
    "getattr",
    "nested",
    "torch_",
    "zip",
    "npy",
    "npz",
    "broken",
    "extension",
    "joblib",
    "dotted",
)
# Clean files that hold pickles or zip archives, or folders of them (not ONNX or safetensors alone).
PICKLE_BASED_CLEAN = (
    "zoo_safetensors_folder",
    "skops_folder",
    "onnx_folder",
    "torchscript",
    "torch_state_dict",
    "torch_legacy_state_dict",
    "numpy_npz",
    "joblib_sklearn",
    "pickled_arrays",
)


def in_pickle_scope(case: Case) -> bool:
    """Whether a pickle scanner is meant to inspect this technique."""
    return case.name.startswith(PICKLE_SCOPE)


def bastion_verdict(path: Path, case: Case) -> str:
    report = bastion.scan(path)
    if case.check is None:
        return "flagged" if not report.clean else "clean"
    fired = {(f.check, f.severity) for f in report.findings}
    return f"caught ({report.max_severity})" if (case.check, case.severity) in fired else "not caught"


def picklescan_verdict(path: Path, case: Case) -> str:
    try:
        result = scan_directory_path(str(path)) if path.is_dir() else scan_file_path(str(path))
    except Exception as error:  # a peer's crash is a result, recorded as such
        return f"error ({type(error).__name__})"
    if result.issues_count or result.infected_files:
        return "flagged" if case.check is None else "caught"
    if result.scan_err:
        return "error (parse)"
    if result.suspicious_count:
        return "suspicious only"
    return "clean" if case.check is None else "not caught"


def fickling_verdict(path: Path, case: Case) -> str:
    if path.is_dir():
        return "—"
    try:
        with open(path, "rb") as handle:
            is_zip = handle.read(4) == b"PK\x03\x04"
        results = (
            list(scan_zip_archive(str(path), graceful=True).values())
            if is_zip
            else [fickling_scan_file(str(path), graceful=True)]
        )
    except Exception as error:  # a peer's crash is a result, recorded as such
        return f"error ({type(error).__name__})"
    worst = max((r.severity for r in results), default=Severity.LIKELY_SAFE)
    if worst > Severity.LIKELY_SAFE:
        label = worst.name.lower().replace("_", " ")
        return f"flagged ({label})" if case.check is None else f"caught ({label})"
    if any(r.errors for r in results):
        return "error (parse)"
    return "clean" if case.check is None else "not caught"


def run_corpus(root: Path) -> list[tuple[Case, str, str, str]]:
    marker = root / "MARKER"
    rows = []
    for case in MALICIOUS + CLEAN:
        folder = root / case.name
        folder.mkdir(parents=True)
        path = case.build(folder, marker)
        scope = in_pickle_scope(case) or case.name in PICKLE_BASED_CLEAN
        rows.append(
            (
                case,
                bastion_verdict(path, case),
                picklescan_verdict(path, case) if scope else "—",
                fickling_verdict(path, case) if scope else "—",
            )
        )
    if marker.exists():
        raise RuntimeError("a payload ran during the benchmark")
    return rows


def measure(function: Callable[[], object]) -> tuple[float, float]:
    """Seconds and peak traced KiB of one call, after a warm-up call."""
    function()
    tracemalloc.start()
    started = time.perf_counter()
    function()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**10


def checkpoint_rows(root: Path) -> tuple[int, list[tuple[str, float, float]]]:
    path = root / "checkpoint.pt"
    state = {f"layer{i}.weight": torch.randn(CHECKPOINT_MB * 2**20 // 4 // 8) for i in range(8)}
    torch.save(state, path)
    size = path.stat().st_size
    rows = [
        ("bastion scan", *measure(lambda: bastion.scan(path))),
        (f"picklescan {PICKLESCAN}", *measure(lambda: scan_file_path(str(path)))),
        (f"fickling {FICKLING}", *measure(lambda: scan_zip_archive(str(path), graceful=True))),
        ("reading the file whole (reference)", *measure(lambda: path.read_bytes())),
    ]
    return size, rows


def tally(rows) -> list[tuple[str, str]]:
    """Per scanner (bastion, picklescan, fickling): techniques caught and clean files flagged, "k of n"."""
    clean = [row for row in rows if row[0].check is None]
    caught = [row for row in rows if row[0].check is not None]

    def count(scope, index: int, word: str) -> str:
        scoped = [row for row in scope if row[index] != "—"]
        return f"{sum(row[index].startswith(word) for row in scoped)} of {len(scoped)}"

    return [(count(caught, i, "caught"), count(clean, i, "flagged")) for i in (1, 2, 3)]


def technique_table(rows) -> str:
    lines = [
        f"| technique | bastion scan | picklescan {PICKLESCAN} | fickling {FICKLING} |",
        "| --- | --- | --- | --- |",
    ]
    for case, ours, theirs, other in rows:
        if case.check is not None:
            lines.append(f"| {case.technique} | {ours} | {theirs} | {other} |")
    counts = tally(rows)
    caught = " | ".join(c for c, _ in counts)
    lines.append(f"| **caught** (of the techniques in each scanner's scope) | {caught} |")
    lines.append("| **false positives** on clean files | " + " | ".join(f for _, f in counts) + " |")
    clean_names = ", ".join(row[0].technique for row in rows if row[0].check is None)
    return "\n".join(lines) + f"\n\nClean files: {clean_names}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the tables, leave the docs alone")
    args = parser.parse_args()
    logging.getLogger("picklescan").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        rows = run_corpus(root / "corpus")
        size, timing = checkpoint_rows(root)
    table = technique_table(rows)
    timing_table = "\n".join(
        ["| scanner | seconds | peak traced memory (KiB) |", "| --- | ---: | ---: |"]
        + [f"| {name} | {seconds:.3f} | {peak:,.0f} |" for name, seconds, peak in timing]
    )
    (ours, ours_fp), (theirs, theirs_fp), (other, other_fp) = tally(rows)
    peak = {name.split()[0]: kib for name, _, kib in timing}
    section = f"""## Model-file scanning: bastion scan vs picklescan and fickling

What: which unsafe-file techniques each scanner catches, its false positives on clean files, and the
time and memory of scanning a large checkpoint. Peers: picklescan's `scan_file_path` and fickling's
`scan_file`/`scan_zip_archive`. Data: the scan test corpus (`tests/scan/corpus.py`: one malicious
file per technique, {len(CLEAN)} clean files of every format bastion reads or writes), then one
{size / 2**20:.0f} MiB `torch.save` checkpoint (8 tensors). The result for each technique, and why
each peer misses what it misses: [scan.md](scan.md#results-on-the-test-corpus).

Command: `python -m benchmarks.scan`. Machine: {machine()}.

| | bastion scan | picklescan {PICKLESCAN} | fickling {FICKLING} |
| --- | --- | --- | --- |
| techniques caught (of those in each scanner's scope) | {ours} | {theirs} | {other} |
| false positives on clean files | {ours_fp} | {theirs_fp} | {other_fp} |

Scanning the {size / 2**20:.0f} MiB checkpoint (second run of each; peak of Python allocations):

{timing_table}

bastion catches {ours} techniques with {ours_fp} false positives, against picklescan's {theirs} ({theirs_fp})
and fickling's {other} ({other_fp}), and reads only the checkpoint's small `data.pkl`, so its peak memory
stays at {peak["bastion"]:,.0f} KiB whatever the checkpoint's size.
"""
    print(section)
    if not args.no_write:
        write_section("scan", section)
        write_section("scan-table", table, path=SCAN_DOC)


if __name__ == "__main__":
    main()
