"""``bastion defend micromodels``: sanitize a web access log before training an anomaly sensor on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from bastion.backends import BACKENDS
from bastion.cli.app import defend_app
from bastion.cli.common import JsonOption, console, reported_errors, show_progress
from bastion.data import http_traffic, read_access_log, write_access_log
from bastion.defenses import MicroModels
from bastion.exceptions import ValidationError
from bastion.sensors import NGramSensor, PAYLSensor
from bastion.validation import check_choice, check_scalar

SENSORS = {"ngram": NGramSensor, "payl": PAYLSensor}


@defend_app.command(
    "micromodels",
    help=(
        "Sanitize the training traffic of a content anomaly sensor with micro-models (Cretu et al. 2008).\n\n"
        "Cuts the traffic, in order, into slices (--slice-size requests, or --slice-seconds of time), trains "
        "one sensor per slice (ngram: Anagram's byte 5-grams in a Bloom filter; payl: PAYL's byte "
        "frequencies), lets every micro-model vote on every request, and removes those that more than "
        "--threshold of the micro-models find abnormal. Writes the kept requests to --out as an access log.\n\n"
        "The traffic is an access log in common or combined format (--traffic), or a synthetic shop's stream "
        "with attack campaigns in it (--generate N), for which the removal is scored against the ground truth."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion defend micromodels --traffic access.log --slice-size 5000 --threshold 0.5 --out clean.log\n\n"
        "  bastion defend micromodels --generate 50000 --attack-rate 0.015 --slice-size 3000 --out clean.log\n\n"
        "  bastion defend micromodels --traffic access.log --slice-seconds 3600 --weighted --sensor payl --json r.json"
    ),
)
def micromodels(
    traffic: Annotated[Path | None, typer.Option(help="Access log to sanitize (common or combined format).")] = None,
    generate: Annotated[
        int | None, typer.Option(metavar="N", help="Instead of a log: N synthetic requests with attacks.")
    ] = None,
    attack_rate: Annotated[float, typer.Option(help="Share of attacks in the --generate stream.")] = 0.015,
    sensor: Annotated[str, typer.Option(help="Micro-model sensor: ngram (Anagram) or payl (PAYL).")] = "ngram",
    slice_size: Annotated[int | None, typer.Option(help="Requests per micro-model (default 5000).")] = None,
    slice_seconds: Annotated[
        float | None, typer.Option(help="Slice by time instead: seconds of traffic per micro-model.")
    ] = None,
    threshold: Annotated[float, typer.Option(help="Voting threshold V in [0, 1]: remove above this share.")] = 0.5,
    weighted: Annotated[bool, typer.Option(help="Weight each micro-model's vote by its slice's size.")] = False,
    backend: Annotated[str, typer.Option(help=f"Where micro-models train: {', '.join(BACKENDS)}.")] = "local",
    workers: Annotated[int | None, typer.Option(help="Processes of the local backend (default: every CPU).")] = None,
    seed: Annotated[int, typer.Option(help="Seeds the --generate stream.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write the kept requests here, as an access log.")] = None,
    json_out: JsonOption = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
) -> None:
    """Sanitize a web access log with micro-models before training an anomaly sensor on it."""
    with reported_errors():
        if (traffic is None) == (generate is None):
            raise ValidationError("give exactly one of --traffic (an access log) or --generate N (synthetic traffic)")
        check_choice(sensor, "--sensor", tuple(SENSORS))
        threshold = check_scalar(threshold, "--threshold", low=0, high=1)
        if slice_size is None and slice_seconds is None:
            slice_size = 5000
        if traffic is not None:
            stream = read_access_log(traffic)
        else:
            generate = check_scalar(generate, "--generate", kind=int, low=1)
            stream = http_traffic(generate, attack_rate=attack_rate, seed=seed)
        defense = MicroModels(
            SENSORS[sensor],
            slice_size=slice_size,
            slice_seconds=slice_seconds,
            vote_threshold=threshold,
            weighted=weighted,
            backend=backend,
            n_workers=workers,
        )
        result = defense.clean(stream, progress=show_progress(progress, json_out))
        if out is not None:
            write_access_log(result.dataset, out)
        by_kind = {}
        if stream.kind is not None:
            for kind in np.unique(stream.kind):
                rows = stream.kind == kind
                by_kind[str(kind)] = {"n": int(rows.sum()), "removed": int(result.removed_mask[rows].sum())}
        record = {
            "traffic": str(traffic) if traffic is not None else stream.name,
            "sensor": sensor,
            "n_slices": len(defense.slices_),
            **result.to_dict(),
            "removed_by_kind": by_kind,
            "out": None if out is None else str(out),
        }
        if json_out is not None:
            json_out.write_text(json.dumps(record, indent=2) + "\n")

    table = Table(title=f"bastion defend micromodels: {sensor} micro-models on {record['traffic']}", min_width=60)
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("requests", f"{len(stream):,}")
    table.add_row("micro-models (slices)", str(len(defense.slices_)))
    table.add_row("voting threshold", f"{threshold:g}" + (" (weighted)" if weighted else ""))
    table.add_row("removed", f"{result.n_removed:,} ({result.n_removed / len(stream):.2%})")
    if result.poison_mask is not None:
        table.add_row("removal precision (attacks among removed)", f"{result.precision:.2%}")
        table.add_row("removal recall (attacks removed)", f"{result.recall:.2%}")
        for kind, counts in by_kind.items():
            table.add_row(f"  {kind}: removed", f"{counts['removed']:,} of {counts['n']:,}")
    table.add_row("seconds", f"{result.seconds:.1f}")
    console.print(table)
    where = f"; the other {len(result.dataset):,} are in {out}" if out is not None else ""
    console.print(
        f"removed {result.n_removed:,} of {len(stream):,} requests as suspicious "
        f"(more than {threshold:g} of {len(defense.slices_)} micro-models flagged them){where}"
    )
