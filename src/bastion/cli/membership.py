"""``bastion attack membership``: how much a saved model leaks about its training set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from bastion.attacks.inference import ATTACKS, evaluate_membership, make_attack, train_like
from bastion.attacks.inference.leakage import NEEDS_POOL
from bastion.cli.app import attack_app
from bastion.cli.common import (
    DEFAULT_API_KEY_ENV,
    ApiKeyEnvOption,
    ClipOption,
    JsonOption,
    TrustTypeOption,
    UrlOption,
    check_compatible,
    console,
    load_data,
    load_target,
    reported_errors,
)
from bastion.exceptions import ValidationError
from bastion.plots import plot_roc
from bastion.validation import check_choice, check_scalar, check_seed


@attack_app.command(
    "membership",
    help=(
        "Infer which records a saved model was trained on, and report how well that works.\n\n"
        "Members are the dataset's training split (the records `bastion train` used, with the same "
        "--seed), non-members its test split. The table gives the ROC AUC, the true-positive rate at "
        "0.1% and 1% false-positive rate (what matters: can the attacker be sure about some records?), "
        "and the best balanced accuracy.\n\n"
        "Methods: loss (Yeom et al. 2018) and confidence (Salem et al. 2019) threshold the model's own "
        "outputs; shadow (Shokri et al. 2017) and lira (Carlini et al. 2022, offline) train --n-shadow "
        "models like the target on an attacker's pool: a --pool-fraction of the test split, which is "
        "then left out of the non-members. Give the target's training schedule (--epochs, --lr, "
        "--batch-size, --weight-decay) so those models imitate it. They train on half the pool, far fewer "
        "records than the target saw, so on the command line these two understate the leak; "
        "benchmarks/membership.py runs them with matched training-set sizes."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion train --data digits --arch mlp --epochs 100 --out overfit/\n\n"
        "  bastion attack membership --model overfit/ --data digits --method loss\n\n"
        "  bastion attack membership --model overfit/ --data digits --method lira --n-shadow 16 --epochs 100 "
        "--plot roc.png\n\n"
        "  bastion attack membership --model overfit/ --data digits --method shadow --n-shadow 4 --epochs 100 "
        "--json leak.json"
    ),
)
def membership(
    model: Annotated[
        Path | None,
        typer.Option(
            help="The target: a folder saved by `bastion train` (or bastion.models.io.save), or a model file."
        ),
    ] = None,
    data: Annotated[
        str, typer.Option(help="The dataset the model was trained on: digits, breast_cancer, .npz or IDX folder.")
    ] = "digits",
    method: Annotated[str, typer.Option(help=f"Attack: {', '.join(ATTACKS)}.")] = "loss",
    n_shadow: Annotated[int, typer.Option(help="Shadow (shadow) or reference (lira) models to train.")] = 8,
    pool_fraction: Annotated[
        float, typer.Option(help="Share of the test split given to the attacker as its pool (shadow, lira).")
    ] = 0.5,
    epochs: Annotated[int, typer.Option(help="Training epochs of each shadow/reference model.")] = 15,
    lr: Annotated[float, typer.Option(help="Adam learning rate of the shadow/reference models.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Batch size of the shadow/reference models.")] = 64,
    weight_decay: Annotated[float, typer.Option(help="Weight decay of the shadow/reference models.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seeds the data split (use the one you trained with) and the attack.")] = 0,
    plot: Annotated[Path | None, typer.Option(help="Save the ROC curve (log-log axes) to this image file.")] = None,
    json_out: JsonOption = None,
    url: UrlOption = None,
    api_key_env: ApiKeyEnvOption = DEFAULT_API_KEY_ENV,
    progress: Annotated[bool, typer.Option(help="Show a progress bar while training models.")] = True,
    trust_type: TrustTypeOption = None,
    clip: ClipOption = None,
) -> None:
    """Infer which records a saved model was trained on, and report how well that works."""
    with reported_errors():
        method = check_choice(method, "--method", tuple(ATTACKS))
        seed = check_seed(seed, "--seed")
        target = load_target(model, url, api_key_env, trusted=trust_type or ())
        dataset = load_data(data, seed=seed, clip=clip)
        check_compatible(target, dataset, model or url)
        x_out, y_out = dataset.x_test, dataset.y_test
        if method in NEEDS_POOL:
            pool_fraction = check_scalar(
                pool_fraction, "--pool-fraction", low=0, high=1, include_low=False, include_high=False
            )
            order = np.random.default_rng(seed).permutation(len(x_out))
            n_pool = round(pool_fraction * len(x_out))
            if n_pool < 4 or n_pool > len(x_out) - 1:
                raise ValidationError(
                    f"`--pool-fraction` {pool_fraction:g} leaves {n_pool} of {len(x_out)} test records to the "
                    "attacker; it needs at least 4 and must leave some non-members"
                )
            pool, kept = order[:n_pool], np.sort(order[n_pool:])
            train_fn = train_like(target, epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay)
            count = {"shadow": "n_shadow", "lira": "n_reference"}[method]
            attack = make_attack(method, train_fn=train_fn, seed=seed, progress=progress, **{count: n_shadow})
            attack.fit(target, x_out[pool], y_out[pool])
            x_out, y_out = x_out[kept], y_out[kept]
        else:
            attack = make_attack(method)
        result = evaluate_membership(target, attack, dataset.x_train, dataset.y_train, x_out, y_out)
        train_accuracy = float((target.predict(dataset.x_train) == dataset.y_train).mean())
        test_accuracy = float((target.predict(dataset.x_test) == dataset.y_test).mean())
        if plot is not None:
            plot_roc({method: result}, plot, title=f"{method} on {model or url}")
        if json_out is not None:
            record = {
                "model": str(model or url),
                "data": dataset.name,
                "method": method,
                "train_accuracy": train_accuracy,
                "test_accuracy": test_accuracy,
                **result.to_dict(),
            }
            json_out.write_text(json.dumps(record, indent=2) + "\n")

    table = Table(title=f"bastion attack membership: {method} on {model or url}")
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("attack", result.attack)
    table.add_row("members", f"{result.n_members} ({dataset.name} training split)")
    table.add_row("non-members", f"{result.n_nonmembers} ({dataset.name} test split)")
    table.add_row("train / test accuracy", f"{train_accuracy:.2%} / {test_accuracy:.2%}")
    table.add_row("ROC AUC", f"{result.auc:.4f}")
    table.add_row("TPR at 0.1% FPR (members caught, 0.1% of non-members flagged)", f"{result.tpr_at_fpr_0_1pct:.2%}")
    table.add_row("TPR at 1% FPR (members caught, 1% of non-members flagged)", f"{result.tpr_at_fpr_1pct:.2%}")
    table.add_row("balanced accuracy (best threshold)", f"{result.balanced_accuracy:.2%}")
    table.add_row("queries", f"{result.queries_used:,}")
    table.add_row("seconds (scoring)", f"{result.seconds:.2f}")
    if plot is not None:
        table.add_row("ROC plot", str(plot))
    console.print(table)
    for rate in (0.001, 0.01):
        allowed = rate * result.n_nonmembers
        if allowed < 10:
            console.print(
                f"[yellow]caution:[/] TPR at {rate:.1%} FPR rests on {result.n_nonmembers} non-members, "
                f"{allowed:.1f} false positives allowed (under 10): a noisy figure",
                highlight=False,
            )
    console.print(result.summary(), highlight=False, markup=False)
