"""``bastion evaluate robustness``: robust accuracy against eps under an attack ensemble."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from bastion.attacks import robustness
from bastion.cli.app import evaluate_app
from bastion.cli.common import check_compatible, console, load_data, load_model, reported_errors
from bastion.exceptions import ValidationError
from bastion.models import GRADIENTS
from bastion.plots import plot_robustness
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
        "Square 1,000 queries, for quick sweeps. The table "
        "shows, per eps, the robust accuracy and how many samples each attack broke. Then come the "
        "findings of the gradient-masking checks (Athalye et al. 2018; Carlini et al. 2019): a black-box "
        "attack beating the white-box ones, an attack that cannot reach ~0% at a huge eps, FGSM beating "
        "PGD, more PGD steps not helping, a saturated softmax. Any finding means the numbers above may "
        "overstate the model's robustness."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion evaluate robustness --model at-pgd/ --data digits --eps 0.05,0.1,0.2\n\n"
        "  bastion evaluate robustness --model distilled/ --eps 0.1,0.2 --plot robustness.png\n\n"
        "  bastion evaluate robustness --model at-pgd/ --eps 0.05,0.1,0.2,0.3 --version fast\n\n"
        "  bastion evaluate robustness --model model/ --eps 0.5,1,2 --norm 2 --n-samples 500 --json r.json"
    ),
)
def robustness_command(
    model: Annotated[
        Path, typer.Option(help="The model: a folder saved by `bastion train` or `bastion defend`, or an .onnx file.")
    ],
    eps: Annotated[str, typer.Option(help="Comma-separated radii in input units, e.g. 0.05,0.1,0.2.")],
    data: Annotated[str, typer.Option(help="Dataset whose test split is evaluated.")] = "digits",
    norm: Annotated[str, typer.Option(help="Threat model: inf or 2.")] = "inf",
    version: Annotated[
        str, typer.Option(help="Ensemble: standard (AutoAttack's) or fast (about seven times cheaper).")
    ] = "standard",
    n_samples: Annotated[
        int | None,
        typer.Option(help="Test samples evaluated, drawn at random with --seed (default: the whole test split)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the data split, the sample draw and the attacks.")] = 0,
    diagnostics: Annotated[bool, typer.Option(help="Run the gradient-masking checks.")] = True,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of robust accuracy against eps here.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the result as JSON here.")] = None,
    trust_code: Annotated[
        bool, typer.Option(help="Accept a TorchScript model (it is code; only if you trust it).")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar over the attacks.")] = False,
) -> None:
    """Robust accuracy at each eps under an attack ensemble, with gradient-masking checks."""
    with reported_errors():
        seed = check_seed(seed, "--seed")
        version = check_choice(version, "--version", ("standard", "fast"))
        if n_samples is not None:
            n_samples = check_scalar(n_samples, "--n-samples", kind=int, low=1)
        grid = parse_eps(eps)
        target = load_model(model, trust_code=trust_code, need=GRADIENTS)
        dataset = load_data(data, seed=seed)
        check_compatible(target, dataset, model)
        count = len(dataset.y_test) if n_samples is None else min(n_samples, len(dataset.y_test))
        index = np.sort(np.random.default_rng(seed).choice(len(dataset.y_test), count, replace=False))
        result = robustness(
            target,
            dataset.x_test[index],
            dataset.y_test[index],
            eps_grid=grid,
            norm=norm,
            version=version,
            diagnostics=diagnostics,
            seed=seed,
            progress=progress,
        )
        if plot is not None:
            plot_robustness(result, plot, title=f"{model.name} on {dataset.name}")
        if json_out is not None:
            record = {"model": str(model), "data": dataset.name, **result.to_dict()}
            json_out.write_text(json.dumps(record, indent=2) + "\n")

    attacks = list(dict.fromkeys(r.attack for r in result.records))
    table = Table(
        title=(
            f"bastion evaluate robustness: {model} on {dataset.name} "
            f"({result.n_samples} test samples, L{norm}, {version} ensemble)"
        ),
        caption="robust: accuracy under every attack; attack columns: samples it broke that earlier ones had not",
    )
    table.add_column("eps", justify="right")
    table.add_column("robust", justify="right")
    for name in attacks:
        table.add_column(name, justify="right")
    table.add_row("0 (clean)", f"{result.clean_accuracy:.1%}", *("" for _ in attacks))
    for value, accuracy in zip(result.eps, result.robust_accuracy, strict=True):
        broken = {r.attack: r.samples_broken for r in result.records if r.eps == value}
        table.add_row(f"{value:g}", f"{accuracy:.1%}", *(str(broken.get(name, "")) for name in attacks))
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
    if plot is not None:
        console.print(f"plot written to {plot}")
    console.print(result.summary(), highlight=False, markup=False)
