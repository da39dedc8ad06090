"""``bastion evaluate robustness``: robust accuracy against eps under an attack ensemble."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from bastion.attacks import robustness
from bastion.attacks.evasion.robustness import RobustnessResult
from bastion.cli.app import evaluate_app
from bastion.cli.common import (
    ClipOption,
    ProgressOption,
    TrustCodeOption,
    TrustTypeOption,
    check_compatible,
    console,
    load_data,
    load_model,
    reported_errors,
    show_progress,
)
from bastion.exceptions import ValidationError
from bastion.models import GRADIENTS, SCORES
from bastion.plots import plot_robustness, robustness_figure, save_figure
from bastion.validation import check_choice, check_scalar, check_seed


def parse_eps(text: str) -> list[float]:
    """``"0.05,0.1,0.2"`` -> ``[0.05, 0.1, 0.2]``.

    Raises:
        ValidationError: an entry is not a number.
    """
    values = []
    for part in text.split(","):
        try:
            values.append(float(part))
        except ValueError as error:
            message = f"`--eps` must be comma-separated numbers such as 0.05,0.1,0.2, got {text!r}"
            raise ValidationError(message) from error
    return values


@evaluate_app.command(
    "robustness",
    help=(
        "Robust accuracy at each eps under the worst case of an attack ensemble, with checks for "
        "gradient masking.\n\n"
        "As in AutoAttack (Croce & Hein 2020), a sample counts as robust only if every attack fails on "
        "it. --version standard (the default) is AutoAttack's ensemble: APGD on cross-entropy, APGD-T "
        "(targeted DLR against the 9 likeliest other classes), FAB-T, then the black-box Square Attack "
        "with 5,000 queries; --version fast swaps APGD-T and FAB-T for untargeted APGD-DLR and gives "
        "Square 1,000 queries, for quick sweeps; --version blackbox runs Square (when the model gives "
        "scores) and the label-only HopSkipJump, for models without gradients, and is chosen, with a "
        "note, for such a model. The table "
        "shows, per eps, the robust accuracy and how many samples each attack broke. Then come the "
        "findings of the gradient-masking checks (Athalye et al. 2018; Carlini et al. 2019): a black-box "
        "attack beating the white-box ones, an attack that cannot reach ~0% at a huge eps, FGSM beating "
        "PGD, more PGD steps not helping, a saturated softmax. Any finding means the numbers above may "
        "overstate the model's robustness.\n\n"
        "Several --model options compare models on the same samples: one table of robust accuracy per "
        "eps and model, a verdict naming the one that holds up best, and one plot with --plot."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion evaluate robustness --model at-pgd/ --data digits --eps 0.05,0.1,0.2\n\n"
        "  bastion evaluate robustness --model model/ --model at-pgd/ --eps 0.1,0.2 --plot compare.png\n\n"
        "  bastion evaluate robustness --model at-pgd/ --eps 0.05,0.1,0.2,0.3 --version fast\n\n"
        "  bastion evaluate robustness --model model.onnx --eps 0.1 --version blackbox --n-samples 50\n\n"
        "  bastion evaluate robustness --model model/ --eps 0.5,1,2 --norm 2 --n-samples 500 --json r.json"
    ),
)
def robustness_command(
    model: Annotated[
        list[Path],
        typer.Option(
            help="The model: a folder saved by `bastion train` or `bastion defend`, an .onnx or .skops file; "
            "repeat to compare models."
        ),
    ],
    eps: Annotated[str, typer.Option(help="Comma-separated radii in input units, e.g. 0.05,0.1,0.2.")],
    data: Annotated[str, typer.Option(help="Dataset whose test split is evaluated.")] = "digits",
    norm: Annotated[str, typer.Option(help="Threat model: inf or 2.")] = "inf",
    version: Annotated[
        str,
        typer.Option(
            help="Ensemble: standard (AutoAttack's), fast (about seven times cheaper) or blackbox "
            "(Square and HopSkipJump, for models without gradients)."
        ),
    ] = "standard",
    n_samples: Annotated[
        int | None,
        typer.Option(help="Test samples evaluated, drawn at random with --seed (default: the whole test split)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the data split, the sample draw and the attacks.")] = 0,
    diagnostics: Annotated[bool, typer.Option(help="Run the gradient-masking checks.")] = True,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of robust accuracy against eps here.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the result as JSON here.")] = None,
    trust_code: TrustCodeOption = False,
    trust_type: TrustTypeOption = None,
    clip: ClipOption = None,
    progress: ProgressOption = True,
) -> None:
    """Robust accuracy at each eps under an attack ensemble, with gradient-masking checks."""
    with reported_errors():
        seed = check_seed(seed, "--seed")
        version = check_choice(version, "--version", ("standard", "fast", "blackbox"))
        if n_samples is not None:
            n_samples = check_scalar(n_samples, "--n-samples", kind=int, low=1)
        grid = parse_eps(eps)
        need = None if version == "blackbox" else GRADIENTS
        targets = [load_model(path, trust_code=trust_code, trusted=trust_type or (), need=need) for path in model]
        dataset = load_data(data, seed=seed, clip=clip)
        for target, path in zip(targets, model, strict=True):
            check_compatible(target, dataset, path)
        count = len(dataset.y_test) if n_samples is None else min(n_samples, len(dataset.y_test))
        index = np.sort(np.random.default_rng(seed).choice(len(dataset.y_test), count, replace=False))
        results, versions = {}, {}
        for target, path in zip(targets, model, strict=True):
            chosen = version
            if version != "blackbox" and not {GRADIENTS, SCORES} <= target.capabilities:
                chosen = "blackbox"
                console.print(
                    f"note: {path} offers no gradients, so the black-box ensemble runs on it (--version blackbox); "
                    "its robust accuracy is an upper bound",
                    highlight=False,
                    markup=False,
                )
            versions[str(path)] = chosen
            results[str(path)] = robustness(
                target,
                dataset.x_test[index],
                dataset.y_test[index],
                eps_grid=grid,
                norm=norm,
                version=chosen,
                diagnostics=diagnostics,
                seed=seed,
                progress=show_progress(progress, json_out),
            )
        if plot is not None:
            if len(results) == 1:
                plot_robustness(results[str(model[0])], plot, title=f"{model[0].name} on {dataset.name}")
            else:
                title = f"robust accuracy on {dataset.name} (L{norm})"
                save_figure(robustness_figure(results, title=title), plot)
        if json_out is not None:
            records = [
                {"model": name, "data": dataset.name, "version": versions[name], **result.to_dict()}
                for name, result in results.items()
            ]
            record = records[0] if len(records) == 1 else {"models": records, "verdict": compare_verdict(results)}
            json_out.write_text(json.dumps(record, indent=2) + "\n")

    if len(results) == 1:
        _print_one(str(model[0]), results[str(model[0])], dataset.name, norm, versions[str(model[0])], diagnostics)
    else:
        _print_comparison(results, dataset.name, norm, diagnostics)
    if plot is not None:
        console.print(f"plot written to {plot}")


def compare_verdict(results: dict[str, RobustnessResult]) -> str:
    """One sentence naming the model with the highest robust accuracy at the largest eps."""
    ranked = sorted(results.items(), key=lambda item: item[1].robust_accuracy[-1], reverse=True)
    (best, top), (_, worst) = ranked[0], ranked[-1]
    eps = top.eps[-1]
    if top.robust_accuracy[-1] - worst.robust_accuracy[-1] < 0.02:
        return f"At eps {eps:g} (L{top.norm}) the models are within 2 points of each other: none helped clearly"
    others = ", ".join(f"{name} {result.robust_accuracy[-1]:.0%}" for name, result in ranked[1:])
    caveat = " (gradient masking suspected on it: its figure may be overestimated)" if top.gradient_masking else ""
    return (
        f"At eps {eps:g} (L{top.norm}) {best} keeps {top.robust_accuracy[-1]:.0%} robust accuracy against "
        f"{others} ({top.n_samples} samples): {best} holds up best{caveat}"
    )


def _print_comparison(results: dict[str, RobustnessResult], data_name: str, norm: str, diagnostics: bool) -> None:
    first = next(iter(results.values()))
    table = Table(
        title=(
            f"bastion evaluate robustness: {len(results)} models on {data_name} "
            f"({first.n_samples} test samples, L{norm})"
        ),
        caption="robust accuracy: correct under every attack of the ensemble, on the same samples for every model",
    )
    table.add_column("eps", justify="right")
    for name in results:
        table.add_column(name, justify="right")
    table.add_row("0 (clean)", *(f"{r.clean_accuracy:.1%}" for r in results.values()))
    for position, value in enumerate(first.eps):
        table.add_row(f"{value:g}", *(f"{r.robust_accuracy[position]:.1%}" for r in results.values()))
    console.print(table)
    for name, result in results.items():
        if not diagnostics:
            continue
        if result.findings:
            found = ", ".join(finding.name for finding in result.findings)
            console.print(f"[bold red]{escape(name)}: gradient masking suspected[/] ({escape(found)})")
        else:
            console.print(f"[green]{escape(name)}: no sign of gradient masking[/]")
    console.print(compare_verdict(results), highlight=False, markup=False)


def _print_one(name: str, result: RobustnessResult, data_name: str, norm: str, version: str, diagnostics: bool) -> None:
    attacks = list(dict.fromkeys(r.attack for r in result.records))
    table = Table(
        title=(
            f"bastion evaluate robustness: {name} on {data_name} "
            f"({result.n_samples} test samples, L{norm}, {version} ensemble)"
        ),
        caption="robust: accuracy under every attack; attack columns: samples it broke that earlier ones had not",
    )
    table.add_column("eps", justify="right")
    table.add_column("robust", justify="right")
    for attack in attacks:
        table.add_column(attack, justify="right")
    table.add_row("0 (clean)", f"{result.clean_accuracy:.1%}", *("" for _ in attacks))
    for value, accuracy in zip(result.eps, result.robust_accuracy, strict=True):
        broken = {r.attack: r.samples_broken for r in result.records if r.eps == value}
        table.add_row(f"{value:g}", f"{accuracy:.1%}", *(str(broken.get(attack, "")) for attack in attacks))
    console.print(table)

    if not diagnostics:
        console.print("gradient-masking checks skipped (--no-diagnostics)")
    elif result.findings:
        findings = Table(title="[bold red]gradient masking suspected[/]: robust accuracy may be overestimated")
        findings.add_column("finding")
        findings.add_column("severity")
        findings.add_column("evidence")
        for finding in result.findings:
            findings.add_row(finding.name, finding.severity, finding.evidence)
        console.print(findings)
    else:
        console.print("[green]no sign of gradient masking[/] in the checks run")
    console.print(result.summary(), highlight=False, markup=False)
