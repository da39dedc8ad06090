"""``bastion attack extract``: steal a saved model through its predictions, within a budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from bastion.attacks.extraction import (
    DecisionTreePathFinding,
    EquationSolving,
    JacobianAugmentation,
    KnockoffNets,
    pixel_shifts,
)
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
from bastion.models import SCORES, LabelOnly, LeafIdentity, RoundedScores
from bastion.validation import check_choice, check_scalar, check_seed

METHODS = ("knockoff", "jacobian", "equation-solving", "path-finding")


def split_attacker_data(x_test: np.ndarray, y_test: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """Split the test data into the attacker's unlabeled half and the held-out evaluation half.

    The target was trained on the training split, so the attacker's images never overlap its
    training data, and fidelity is measured on images the attacker never queried.
    """
    order = np.random.default_rng(seed).permutation(len(x_test))
    half = len(x_test) // 2
    return x_test[order[:half]], x_test[order[half:]], y_test[order[half:]]


def build_extraction(
    method: str,
    attacker_x: np.ndarray,
    *,
    sampling: str,
    output: str,
    architecture: str,
    epochs: int | None,
    rounds: int,
    seed_size: int,
    shifts: bool,
    seed: int,
    progress: bool = False,
) -> Any:
    """The extraction attack ``method`` over the attacker's unlabeled images (``progress``: its bars)."""
    method = check_choice(method, "--method", METHODS)
    images = attacker_x.ndim == 4
    if method == "path-finding":
        return DecisionTreePathFinding(seed=seed)
    extra = (
        {"seed": seed, "progress": progress}
        if epochs is None
        else {"epochs": epochs, "seed": seed, "progress": progress}
    )
    if method == "equation-solving":
        return EquationSolving(**extra)
    if method == "knockoff":
        pool = pixel_shifts(attacker_x) if shifts and images else attacker_x
        return KnockoffNets(pool, sampling=sampling, output=output, architecture=architecture, **extra)
    seed_size = check_scalar(seed_size, "--seed-size", kind=int, low=1, high=len(attacker_x))
    picks = np.random.default_rng(seed).choice(len(attacker_x), seed_size, replace=False)
    return JacobianAugmentation(attacker_x[picks], rounds=rounds, architecture=architecture, **extra)


@attack_app.command(
    "extract",
    help=(
        "Steal a saved model through its prediction API and measure how faithful the copy is.\n\n"
        "The attacker holds half of the test split as unlabeled images (never the target's training "
        "data); the other half measures fidelity (agreement with the target) and the copy's accuracy, "
        "off the attacker's budget. The target's own counter checks the budget was kept.\n\n"
        "Methods: knockoff (Orekondy et al. 2019; a substitute trained on the target's answers), "
        "jacobian (Papernot et al. 2017; a seed set grown by Jacobian augmentation, labels only, plus "
        "the transfer rate of the substitute's FGSM examples), equation-solving (Tramèr et al. 2016; "
        "exact for logistic regression, needs d + 1 queries and confidences), path-finding (Tramèr et al. "
        "2016; a scikit-learn decision tree whose API names the leaf of each answer)."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion attack extract --model model/ --data digits --method knockoff --budget 2000\n\n"
        "  bastion attack extract --model model/ --method knockoff --output labels --sampling adaptive\n\n"
        "  bastion attack extract --model model/ --method jacobian --budget 6400 --seed-size 100\n\n"
        "  bastion attack extract --model lr.skops --data breast_cancer --method equation-solving --budget 31\n\n"
        "  bastion attack extract --model lr.skops --data breast_cancer --method equation-solving --rounding 2\n\n"
        "  bastion attack extract --model tree.skops --data breast_cancer --method path-finding "
        "--trust-type sklearn.tree._tree.Tree\n\n"
        "--rounding and --label-only put an output policy in front of the target, as an API would."
    ),
)
def extract(
    model: Annotated[
        Path | None,
        typer.Option(help="The target: a folder saved by `bastion train`, an .onnx file, or a .skops file."),
    ] = None,
    data: Annotated[
        str, typer.Option(help="Dataset whose test split the attacker and the evaluation share: digits, ...")
    ] = "digits",
    method: Annotated[str, typer.Option(help=f"Extraction method: {', '.join(METHODS)}.")] = "knockoff",
    budget: Annotated[int, typer.Option(help="The most inputs the target may answer for the attacker.")] = 2000,
    sampling: Annotated[str, typer.Option(help="knockoff: random or adaptive (a bandit over clusters).")] = "random",
    output: Annotated[str, typer.Option(help="knockoff: train on the target's probabilities or labels.")] = (
        "probabilities"
    ),
    architecture: Annotated[str, typer.Option(help="Substitute network: mlp or small_cnn.")] = "mlp",
    epochs: Annotated[int | None, typer.Option(help="Substitute training epochs (method default if unset).")] = None,
    rounds: Annotated[int, typer.Option(help="jacobian: augmentation rounds (each doubles the set).")] = 6,
    seed_size: Annotated[int, typer.Option(help="jacobian: images in the seed set.")] = 100,
    shifts: Annotated[bool, typer.Option(help="knockoff: grow the image pool with 1-pixel shifts (9x).")] = True,
    rounding: Annotated[
        int | None, typer.Option(metavar="DECIMALS", help="Round the target's confidences (Tramèr's defense).")
    ] = None,
    label_only: Annotated[bool, typer.Option(help="Let the target answer labels only.")] = False,
    seed: Annotated[int, typer.Option(help="Seeds the data split, the attacker's draws and training.")] = 0,
    trust_code: TrustCodeOption = False,
    trust_type: TrustTypeOption = None,
    json_out: JsonOption = None,
    clip: ClipOption = None,
    url: UrlOption = None,
    api_key_env: ApiKeyEnvOption = DEFAULT_API_KEY_ENV,
    progress: ProgressOption = True,
) -> None:
    """Steal a saved model through its prediction API and measure how faithful the copy is."""
    with reported_errors():
        seed = check_seed(seed, "--seed")
        target = load_target(model, url, api_key_env, trust_code=trust_code, trusted=trust_type or ())
        dataset = load_data(data, seed=seed, clip=clip)
        check_compatible(target, dataset, model or url)
        if method == "path-finding":
            # The tree's API names the leaf of each answer (Tramèr et al.'s identity oracle).
            target = LeafIdentity(target)
        if rounding is not None:
            target = RoundedScores(target, rounding)
        if label_only:
            target = LabelOnly(target)
        attacker_x, x_eval, y_eval = split_attacker_data(dataset.x_test, dataset.y_test, seed)
        attack = build_extraction(
            method,
            attacker_x,
            sampling=sampling,
            output=output,
            architecture=architecture,
            epochs=epochs,
            rounds=rounds,
            seed_size=seed_size,
            shifts=shifts,
            seed=seed,
            progress=show_progress(progress, json_out),
        )
        result = attack.extract(target, budget=budget, x_eval=x_eval, y_eval=y_eval)
        if json_out is not None:
            record = {"model": str(model or url), "data": dataset.name, "method": method, **result.to_dict()}
            json_out.write_text(json.dumps(record, indent=2) + "\n")

    table = Table(title=f"bastion attack extract: {method} on {model or url}")
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("attack", result.attack.split("(", 1)[0])
    answers = "scores" if SCORES in getattr(target, "capabilities", ()) else "labels only"
    table.add_row("the target answers with", answers)
    table.add_row("queries used / budget", f"{result.queries_used:,} / {result.budget:,}")
    table.add_row("fidelity (agreement)", f"{result.fidelity:.2%}")
    if result.accuracy is not None:
        target_accuracy = float((target.predict(x_eval) == y_eval).mean())
        table.add_row("accuracy: stolen copy / target", f"{result.accuracy:.2%} / {target_accuracy:.2%}")
    if result.confidence_error_max is not None:
        table.add_row("largest probability gap to the target", f"{result.confidence_error_max:.3f}")
    if hasattr(result, "transfer_rate"):
        table.add_row(f"transfer rate (FGSM eps {result.transfer_eps:g})", f"{result.transfer_rate:.2%}")
        table.add_row("target clean error", f"{result.target_clean_error:.2%}")
    table.add_row("evaluation samples", str(result.n_eval))
    table.add_row("seconds", f"{result.seconds:.2f}")
    console.print(table)
    console.print(result.summary(), highlight=False, markup=False)
