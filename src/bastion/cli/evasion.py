"""``bastion attack evasion``: run one evasion attack against a saved model."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from bastion.attacks import evaluate
from bastion.attacks.evasion import ATTACKS
from bastion.cli.app import attack_app
from bastion.cli.common import (
    DEFAULT_API_KEY_ENV,
    ApiKeyEnvOption,
    ClipOption,
    JsonOption,
    ProgressOption,
    TrustCodeOption,
    TrustTypeOption,
    UrlOption,
    check_compatible,
    console,
    load_data,
    load_target,
    reported_errors,
    show_progress,
)
from bastion.exceptions import ValidationError
from bastion.validation import check_choice, check_scalar, check_seed

# CLI option -> the keyword argument it sets on an attack class.
OPTIONS = {
    "--eps": "eps",
    "--steps": "steps",
    "--norm": "norm",
    "--loss": "loss",
    "--max-queries": "max_queries",
    "--c": "c",
    "--confidence": "confidence",
}


def attack_options(attack_class: type) -> dict[str, inspect.Parameter]:
    """The CLI options an attack class accepts, mapped to its constructor parameters."""
    parameters = inspect.signature(attack_class).parameters
    return {option: parameters[name] for option, name in OPTIONS.items() if name in parameters}


def build_attack(name: str, given: dict[str, Any], seed: int, *, progress: bool = False) -> Any:
    """Instantiate attack ``name`` from the options the user gave (``None`` = not given).

    ``seed`` and ``progress`` go to the attacks that take them.

    Raises:
        ValidationError: an unknown attack, an option the attack does not take, or a
            missing required one; the message lists what the attack accepts.
    """
    name = check_choice(name, "--attack", tuple(ATTACKS))
    attack_class = ATTACKS[name]
    accepted = attack_options(attack_class)
    shown = ", ".join(accepted) or "no tuning options"
    kwargs: dict[str, Any] = {}
    for option, value in given.items():
        if value is None:
            continue
        if option not in accepted:
            raise ValidationError(f"{option} does not apply to {name}; {name} accepts {shown}")
        kwargs[OPTIONS[option]] = value
    for option, parameter in accepted.items():
        if parameter.default is inspect.Parameter.empty and OPTIONS[option] not in kwargs:
            raise ValidationError(f"{option} is required by {name} (its budget in input units, e.g. {option} 0.1)")
    parameters = inspect.signature(attack_class).parameters
    if "seed" in parameters:
        kwargs["seed"] = seed
    if "progress" in parameters:
        kwargs["progress"] = progress
    return attack_class(**kwargs)


def _sample(y: np.ndarray, n_samples: int | None, seed: int, target: int | None) -> np.ndarray:
    # A targeted attack on a sample already of the target class proves nothing: skip those.
    pool = np.flatnonzero(y != target) if target is not None else np.arange(len(y))
    if len(pool) == 0:
        raise ValidationError(f"every test sample is already of class {target}; pick another --targeted class")
    n_samples = len(pool) if n_samples is None else min(n_samples, len(pool))
    return np.sort(np.random.default_rng(seed).choice(pool, n_samples, replace=False))


@attack_app.command(
    "evasion",
    help=(
        "Attack a saved model with adversarial examples and report how it holds up.\n\n"
        "Attacks the test split (or --n-samples samples of it) and prints clean and robust "
        "accuracy, the attack's success rate, the size of the perturbations and the queries it spent.\n\n"
        "Gradient attacks (fgsm, pgd, apgd, cw) need a white-box model: a folder saved by `bastion train`, "
        "or an .onnx file (bastion converts the graph to torch for its gradients). Black-box attacks "
        "(square, hopskipjump) work on any model, scikit-learn ones included."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion attack evasion --model model/ --data digits --attack pgd --eps 0.1\n\n"
        "  bastion attack evasion --model model/ --data digits --attack pgd --eps 1.5 --norm 2 --steps 50\n\n"
        "  bastion attack evasion --model model/ --data digits --attack fgsm --eps 0.05 --targeted 3\n\n"
        "  bastion attack evasion --model model.onnx --data digits --attack square --eps 0.1 --max-queries 500\n\n"
        "  bastion attack evasion --model model/ --attack hopskipjump --max-queries 1000 --eps 1.5\n\n"
        "hopskipjump and cw are unbounded: they report the median size of their successful perturbations, "
        "and --eps scores them against a bound (in their norm, L2 by default).\n\n"
        "Options that an attack does not take are refused, e.g. --steps with fgsm."
    ),
)
def evasion(
    model: Annotated[
        Path | None,
        typer.Option(
            help="The target: a folder saved by `bastion train` (or bastion.models.io.save), "
            "an .onnx file, or a .skops file."
        ),
    ] = None,
    data: Annotated[
        str, typer.Option(help="Dataset whose test split is attacked: digits, breast_cancer, .npz or IDX folder.")
    ] = "digits",
    attack: Annotated[str, typer.Option(help=f"Attack: {', '.join(ATTACKS)}.")] = "pgd",
    eps: Annotated[
        float | None,
        typer.Option(
            help="Perturbation budget in input units (0.1 = 10% of the [0, 1] range); for the unbounded "
            "hopskipjump and cw, the bound they are scored against."
        ),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Iterations (pgd, apgd, cw).")] = None,
    norm: Annotated[str | None, typer.Option(help="Threat model: inf or 2.")] = None,
    loss: Annotated[str | None, typer.Option(help="Attack loss: ce, margin or dlr (what each attack allows).")] = None,
    max_queries: Annotated[int | None, typer.Option(help="Query budget per sample (black-box attacks).")] = None,
    c: Annotated[float | None, typer.Option("--c", help="Initial trade-off constant (cw).")] = None,
    confidence: Annotated[float | None, typer.Option(help="Required logit margin (cw).")] = None,
    n_samples: Annotated[
        int | None,
        typer.Option(help="Test samples attacked, drawn at random with --seed (default: the whole test split)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the data split, the sample draw and the attack.")] = 0,
    targeted: Annotated[
        int | None, typer.Option(metavar="CLASS", help="Make the model predict CLASS (default: untargeted).")
    ] = None,
    clip: ClipOption = None,
    trust_code: TrustCodeOption = False,
    trust_type: TrustTypeOption = None,
    json_out: JsonOption = None,
    url: UrlOption = None,
    api_key_env: ApiKeyEnvOption = DEFAULT_API_KEY_ENV,
    progress: ProgressOption = True,
) -> None:
    """Attack a saved model with adversarial examples and report how it holds up."""
    with reported_errors():
        seed = check_seed(seed, "--seed")
        if n_samples is not None:
            n_samples = check_scalar(n_samples, "--n-samples", kind=int, low=1)
        given = {
            "--eps": eps,
            "--steps": steps,
            "--norm": norm,
            "--loss": loss,
            "--max-queries": max_queries,
            "--c": c,
            "--confidence": confidence,
        }
        unbounded = "--eps" not in attack_options(ATTACKS[check_choice(attack, "--attack", tuple(ATTACKS))])
        score_eps = given.pop("--eps") if unbounded else None
        attacker = build_attack(attack, given, seed, progress=show_progress(progress, json_out))
        need = getattr(attacker, "requires", None)
        target = load_target(model, url, api_key_env, trust_code=trust_code, trusted=trust_type or (), need=need)
        dataset = load_data(data, seed=seed, clip=clip)
        check_compatible(target, dataset, model or url)
        index = _sample(dataset.y_test, n_samples, seed, targeted)
        result = evaluate(
            target, attacker, dataset.x_test[index], dataset.y_test[index], target=targeted, eps=score_eps
        )
        if json_out is not None:
            record = {"model": str(model or url), "data": dataset.name, "target": targeted, **result.to_dict()}
            json_out.write_text(json.dumps(record, indent=2) + "\n")

    table = Table(title=f"bastion attack evasion: {attack} on {model or url}", min_width=60)
    table.add_column("field")
    table.add_column("value")
    table.add_row("attack", result.attack)
    table.add_row("data", f"{dataset.name} (test split)")
    table.add_row("target", "untargeted" if targeted is None else f"class {targeted}")
    table.add_row("samples", str(result.n_samples))
    table.add_row("clean accuracy (correct on the clean inputs)", f"{result.clean_accuracy:.2%}")
    table.add_row(
        "robust accuracy (correct on the adversarial inputs"
        + (", no eps bound: however large the perturbation)" if result.unbounded else ")"),
        f"{result.robust_accuracy:.2%}",
    )
    table.add_row(
        "success rate (of the inputs classified correctly, turned wrong)"
        if targeted is None
        else "success rate (of all inputs, sent to the target class)",
        f"{result.success_rate:.2%}",
    )
    table.add_row(
        "perturbation L-inf mean / max", f"{result.perturbation_linf_mean:.4f} / {result.perturbation_linf_max:.4f}"
    )
    table.add_row("perturbation L2 mean / max", f"{result.perturbation_l2_mean:.4f} / {result.perturbation_l2_max:.4f}")
    if result.unbounded:
        medians = (
            "none succeeded"
            if result.perturbation_l2_median is None
            else f"{result.perturbation_l2_median:.4f} / {result.perturbation_linf_median:.4f}"
        )
        table.add_row("median perturbation of the successful examples, L2 / L-inf", medians)
        if result.eps is not None:
            table.add_row(
                f"robust accuracy at eps {result.eps:g} (L{result.eps_norm}: correct, or perturbed beyond eps)",
                f"{result.robust_accuracy_at_eps:.2%}",
            )
    table.add_row("queries", f"{result.queries_used:,}")
    table.add_row("seconds", f"{result.seconds:.2f}")
    console.print(table)
    if result.unbounded and result.eps is None:
        console.print(
            f"{attack} is unbounded: no eps bound applied, so robust accuracy counts every perturbation it found; "
            "pass --eps to score it against a bound",
            highlight=False,
            markup=False,
        )
    console.print(result.summary(), highlight=False, markup=False)
