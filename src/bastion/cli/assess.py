"""``bastion assess``: the whole threat matrix on one model, a report, and gates for pipelines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from bastion.assess import assess as run_assessment
from bastion.assess import make_config
from bastion.assess.assessment import REPORT_FILE, RESULTS_FILE
from bastion.assess.default_model import default_model
from bastion.assess.gating import check_gates, parse_gate
from bastion.assess.runner import default_cache_dir
from bastion.assess.sections.common import percent
from bastion.backends import BACKENDS, RayBackend, get_backend
from bastion.cli.app import app
from bastion.cli.common import (
    ClipOption,
    JsonOption,
    TrustCodeOption,
    TrustTypeOption,
    check_compatible,
    console,
    error_console,
    load_data,
    load_model,
    reported_errors,
    show_progress,
)
from bastion.exceptions import ValidationError
from bastion.models import io
from bastion.validation import check_choice, check_scalar, check_seed

DEFAULT_SOURCE = "bastion's default small_cnn"


def _model_sha256(path: Path) -> str:
    """The SHA-256 the report shows: the spec's for a bastion folder, the file's otherwise."""
    return io.read_spec(path)["sha256"] if path.is_dir() else io.sha256(path)


def _backend(name: str, address: str | None, workers: int | None) -> Any:
    check_choice(name, "--backend", BACKENDS)
    if address is not None:
        if name != "ray":
            raise ValidationError(f"`--address` joins a Ray cluster, so it needs `--backend ray`, got --backend {name}")
        return RayBackend(address)
    if workers is not None:
        check_scalar(workers, "--workers", kind=int, low=1)
    return get_backend(name, n_workers=workers)


def _remote(url: str, api_key_env: str) -> Any:
    """A RemoteModel of the gateway at ``url``, its key read from the environment (never a flag)."""
    from bastion.models.remote import RemoteModel

    key = os.environ.get(api_key_env, "")
    if not key.strip():
        raise ValidationError(
            f"`--url` needs the API key in the environment variable {api_key_env} (set it, or name another "
            "with --api-key-env); it is never passed as an option, which would leave it in the shell history"
        )
    return RemoteModel(url, key)


def _summary_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("threat", "attack", "ATLAS", "metric", "undefended", "best defense", "defended", "cost"):
        table.add_column(column, justify="right" if column in ("undefended", "defended") else "left")
    for row in rows:
        defense = row["best_defense"] or "none found"
        if row["mitigation"]:
            defense += f" ({row['mitigation']})"
        table.add_row(
            row["threat"],
            row["attack"],
            row["technique"],
            row["metric"],
            percent(row["undefended"]),
            defense,
            percent(row["defended"]),
            row["cost"] or "",
        )
    return table


@app.command(
    "assess",
    help=(
        "Run the whole threat matrix on a model and write a report a person reads.\n\n"
        "Evasion (FGSM, PGD, APGD, C&W, Square, HopSkipJump over an eps grid; adversarial training and "
        "distillation re-evaluated the same way), duplication (Knockoff extraction per output policy, "
        "membership inference, PATE) and poisoning (label flip, boundary shift, backdoor; sanitizers). "
        "Without --model it assesses bastion's default model (a small CNN trained once on digits and cached). "
        "Writes OUT/index.html (self-contained) and OUT/results.json (schema: bastion/assess/results.schema.json). "
        "Each cell is cached as it finishes, so an interrupted run resumes.\n\n"
        "--fail-under/--fail-over METRIC=VALUE exit 1 when a metric of results.json crosses the threshold."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion assess\n\n"
        "  bastion assess --quick --out report/\n\n"
        "  bastion assess --model model/ --data digits --config assess.toml\n\n"
        "  bastion assess --backend ray --address auto\n\n"
        "  BASTION_API_KEY=... bastion assess --url http://127.0.0.1:8000 --data digits --quick\n\n"
        "  bastion assess --quick --fail-under robust_accuracy@0.1=0.5 --fail-over extraction_fidelity@300=0.9"
    ),
)
def assess(
    model: Annotated[
        Path | None,
        typer.Option(help="The model: a folder saved by `bastion train`, an .onnx or .skops file (default: built-in)."),
    ] = None,
    data: Annotated[
        str, typer.Option(help="The data the model was trained on: digits, breast_cancer, .npz or IDX folder.")
    ] = "digits",
    url: Annotated[
        str | None,
        typer.Option(help="Assess a live prediction API (a `bastion serve` gateway) black-box, instead of --model."),
    ] = None,
    api_key_env: Annotated[
        str, typer.Option(metavar="VAR", help="Environment variable holding the API key for --url.")
    ] = "BASTION_API_KEY",
    config: Annotated[Path | None, typer.Option(help="A TOML file of attacks, budgets, eps grid, defenses.")] = None,
    quick: Annotated[bool, typer.Option(help="A one-minute smoke run: every section on tiny budgets.")] = False,
    backend: Annotated[str, typer.Option(help=f"Where cells run: {', '.join(BACKENDS)}.")] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="The Ray cluster to join (auto, HOST:PORT, ray://HOST:10001); needs --backend ray."),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Processes of the local backend (default: every CPU).")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seeds the data split and every cell (default: the config's, 0).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder of the report.")] = Path("bastion-report"),
    cache: Annotated[
        Path | None, typer.Option(help="Cache folder (default: $BASTION_CACHE_DIR or ~/.cache/bastion).")
    ] = None,
    use_cache: Annotated[bool, typer.Option("--use-cache/--no-cache", help="Reuse finished cells.")] = True,
    fail_under: Annotated[
        list[str] | None, typer.Option(metavar="METRIC=VALUE", help="Exit 1 when the metric is below VALUE.")
    ] = None,
    fail_over: Annotated[
        list[str] | None, typer.Option(metavar="METRIC=VALUE", help="Exit 1 when the metric is above VALUE.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress display.")] = True,
    trust_code: TrustCodeOption = False,
    trust_type: TrustTypeOption = None,
    json_out: JsonOption = None,
    clip: ClipOption = None,
) -> None:
    """Run the whole threat matrix on a model and write the report."""
    progress = show_progress(progress, json_out)
    with reported_errors():
        gates = [parse_gate(g, "under") for g in fail_under or []] + [parse_gate(g, "over") for g in fail_over or []]
        settings = make_config(config, quick=quick)
        if seed is not None:
            settings = settings.replace(seed=check_seed(seed, "--seed"))
        runner = _backend(backend, address, workers)
        cache_dir = cache if cache is not None else default_cache_dir()
        if url is not None:
            if model is not None:
                raise ValidationError("give `--model` or `--url`, not both")
            target = _remote(url, api_key_env)
            # A client of a remote API stays in this process: its connection does not travel to workers.
            runner = get_backend("serial")
            dataset = load_data(data, seed=settings.seed, clip=clip)
            check_compatible(target, dataset, url)
            source, sha256 = url, None
        elif model is None:
            if data != "digits":
                raise ValidationError("`--data` needs `--model`: the default model is trained on digits")
            if clip is not None:
                raise ValidationError(
                    "`--clip` rescales your own `--data` for your own `--model`; the default model runs on the "
                    "embedded digits, already in [0, 1]"
                )
            target, dataset, _ = default_model(cache_dir, progress=progress)
            source, sha256 = DEFAULT_SOURCE, None
        else:
            target = load_model(model, trust_code=trust_code, trusted=trust_type or ())
            dataset = load_data(data, seed=settings.seed, clip=clip)
            check_compatible(target, dataset, model)
            source, sha256 = str(model), _model_sha256(model)
        columns = (
            TextColumn("[bold]assess[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cells"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=error_console, disable=not progress, transient=True) as display:
            task = display.add_task("assess", total=None)

            def on_cell(record: dict[str, Any], n_done: int, n_total: int) -> None:
                display.update(task, completed=n_done, total=n_total)
                if progress:
                    mark = {"ok": "[green]done[/]", "skipped": "[yellow]skipped[/]", "failed": "[red]failed[/]"}
                    seconds = record.get("timing", {}).get("seconds", 0.0)
                    cached = " (cached)" if record.get("timing", {}).get("cached") else ""
                    reason = f": {escape(record['reason'])}" if record["reason"] else ""
                    display.console.print(
                        f"{mark[record['status']]} {record['id']} {seconds:.1f} s{cached}{reason}", highlight=False
                    )

            assessment = run_assessment(
                target,
                dataset,
                config=settings,
                backend=runner,
                cache=(cache_dir / "assess") if use_cache else False,
                on_cell=on_cell,
                model_source=source,
            )
        if sha256 is not None:
            assessment.model["file_sha256"] = sha256
        folder = assessment.write_report(out)
        if json_out is not None:
            json_out.write_text(json.dumps(assessment.to_dict(), indent=2, sort_keys=True) + "\n")
        failures = check_gates(assessment.metrics(), gates)

    console.print(_summary_table(assessment.summary(), f"bastion assess: {source} on {dataset.name}"))
    for record in assessment.failed:
        error_console.print(f"[red]failed[/] {record['id']}: {escape(record['reason'])}", highlight=False)
    counts = {s: sum(r["status"] == s for r in assessment.records) for s in ("ok", "skipped", "failed")}
    console.print(
        f"{counts['ok']} cells ran, {counts['skipped']} skipped, {counts['failed']} failed; model SHA-256 "
        f"{assessment.model['sha256'][:16]}...; report: {folder / REPORT_FILE}, results: {folder / RESULTS_FILE}",
        highlight=False,
    )
    if failures:
        for failure in failures:
            error_console.print(f"[bold red]gate failed:[/] {escape(failure)}", highlight=False)
        console.print(f"verdict: {len(failures)} of {len(gates)} gates failed", highlight=False)
        raise typer.Exit(1)
    worst = assessment.summary()
    verdict = worst[0]["verdict"] if worst else "no finding"
    gated = f"; all {len(gates)} gates passed" if gates else ""
    console.print(f"verdict: {verdict}{gated}", highlight=False)
