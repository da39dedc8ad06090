"""``bastion attack poison`` and ``bastion defend sanitize``: poison a dataset, clean one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from bastion.attacks.poisoning import (
    Backdoor,
    BoundaryShift,
    GradientPoisoning,
    LabelFlip,
    PoisonedDataset,
    evaluate_poisoning,
    load_dataset,
    save_dataset,
)
from bastion.attacks.poisoning.backdoor import LOCATIONS, TRIGGERS
from bastion.attacks.poisoning.label_flip import STRATEGIES
from bastion.cli.app import attack_app, defend_app
from bastion.cli.common import ClipOption, JsonOption, apply_clip, console, reported_errors
from bastion.data.dataset import Dataset
from bastion.defenses.sanitization import SANITIZERS, Iterative
from bastion.exceptions import ValidationError
from bastion.models.representations import ReferenceTrainer
from bastion.validation import check_choice, check_scalar

ATTACKS = ("label_flip", "boundary_shift", "backdoor", "gradient")
DATA_HELP = "Dataset: digits, breast_cancer, an .npz file (x_train, y_train, x_test, y_test) or an IDX folder."


def _keep_classes(dataset: Dataset, spec: str) -> Dataset:
    """Only the listed classes, relabelled 0..k-1 in the order given."""
    try:
        classes = [int(c) for c in spec.split(",")]
    except ValueError as error:
        raise ValidationError(f"`--classes` must be comma-separated class indices such as 3,8, got {spec!r}") from error
    for c in classes:
        if not 0 <= c < dataset.n_classes:
            raise ValidationError(
                f"`--classes` must list classes of {dataset.name!r} in 0..{dataset.n_classes - 1}, got {c}"
            )
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValidationError(f"`--classes` must list at least two distinct classes, got {spec!r}")
    relabel = np.full(dataset.n_classes, -1)
    relabel[classes] = np.arange(len(classes))
    train, test = np.isin(dataset.y_train, classes), np.isin(dataset.y_test, classes)
    return Dataset.from_arrays(
        dataset.x_train[train],
        relabel[dataset.y_train[train]],
        dataset.x_test[test],
        relabel[dataset.y_test[test]],
        name=f"{dataset.name} classes {spec}",
        classes=tuple(dataset.classes[c] for c in classes),
    )


def _train_fn(epochs: int, seed: int):
    trainer = ReferenceTrainer(epochs=epochs, seed=seed)
    return lambda dataset: trainer.train_on(dataset, description="evaluation model")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _evaluation_rows(table: Table, label: str, result: Any) -> None:
    table.add_row(f"test accuracy {label}", _percent(result.test_accuracy))
    if result.attack_success_rate is not None:
        table.add_row(f"attack success {label}", _percent(result.attack_success_rate))


@attack_app.command(
    "poison",
    help=(
        "Poison a dataset's training split and save it with the ground truth of which rows are poison.\n\n"
        "Attacks: label_flip (--strategy random, targeted or boundary; Xiao et al. 2012), boundary_shift "
        "(inject points on the source side of the source/target boundary labelled as the target), backdoor "
        "(BadNets patch or blended trigger, --clean-label for Turner et al. 2019) and gradient (Biggio et al. "
        "2012: --n-points optimised points against a linear learner; binary data, see --classes).\n\n"
        "The .npz written holds x_train, y_train, x_test, y_test (any bastion command reads it) plus "
        "poison_mask, the attack, its target class and the trigger, so `bastion defend sanitize` can score "
        "a defense against it. No pickle. --evaluate trains bastion's zoo network on the poisoned and the "
        "clean data and reports the damage."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion attack poison --data digits --attack backdoor --rate 0.05 --target-class 0 --out poisoned.npz\n\n"
        "  bastion attack poison --data digits --attack label_flip --rate 0.2 --strategy boundary --evaluate\n\n"
        "  bastion attack poison --data digits --classes 3,8 --attack gradient --n-points 10 --out gp.npz\n\n"
        "Then: bastion defend sanitize --data poisoned.npz --method spectre --out cleaned.npz --evaluate"
    ),
)
def poison(
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "digits",
    attack: Annotated[str, typer.Option(help=f"The attack: {', '.join(ATTACKS)}.")] = "backdoor",
    rate: Annotated[float, typer.Option(help="Fraction of the training set poisoned, in (0, 1).")] = 0.05,
    target_class: Annotated[int | None, typer.Option(help="The attacker's target class.")] = None,
    source_class: Annotated[int | None, typer.Option(help="The class whose rows are flipped or invaded.")] = None,
    strategy: Annotated[str, typer.Option(help=f"label_flip: {', '.join(STRATEGIES)}.")] = "random",
    trigger: Annotated[str, typer.Option(help=f"backdoor: {', '.join(TRIGGERS)}.")] = "patch",
    patch_size: Annotated[int, typer.Option(help="backdoor: patch side (images) or features (flat).")] = 2,
    location: Annotated[str, typer.Option(help=f"backdoor: {', '.join(LOCATIONS)}.")] = "bottom_right",
    blend_alpha: Annotated[float, typer.Option(help="backdoor: weight of the blended pattern.")] = 0.2,
    clean_label: Annotated[bool, typer.Option(help="backdoor: poison target-class rows, labels kept.")] = False,
    n_points: Annotated[int, typer.Option(help="gradient: optimised points injected.")] = 10,
    learner: Annotated[str, typer.Option(help="gradient: the surrogate, svm or logistic.")] = "svm",
    classes: Annotated[str | None, typer.Option(help="Keep only these classes first, e.g. 3,8.")] = None,
    seed: Annotated[int, typer.Option(help="Seeds the split, the attack and the evaluation models.")] = 0,
    out: Annotated[Path | None, typer.Option(help="The .npz to write the poisoned dataset to.")] = None,
    evaluate: Annotated[bool, typer.Option(help="Train on poisoned and clean data; report the damage.")] = False,
    epochs: Annotated[int, typer.Option(help="Training epochs of the --evaluate models.")] = 15,
    json_out: JsonOption = None,
    clip: ClipOption = None,
) -> None:
    """Poison a dataset's training split and save it with its poison mask."""
    with reported_errors():
        check_choice(attack, "--attack", ATTACKS)
        check_scalar(epochs, "--epochs", kind=int, low=1)
        if attack == "label_flip":
            attacker: Any = LabelFlip(
                rate, strategy=strategy, source_class=source_class, target_class=target_class, seed=seed
            )
        elif attack == "boundary_shift":
            attacker = BoundaryShift(rate, source_class=source_class, target_class=target_class, seed=seed)
        elif attack == "backdoor":
            attacker = Backdoor(
                rate,
                target_class=0 if target_class is None else target_class,
                trigger=trigger,
                patch_size=patch_size,
                location=location,
                blend_alpha=blend_alpha,
                clean_label=clean_label,
                seed=seed,
            )
        else:
            attacker = GradientPoisoning(n_points, learner=learner, seed=seed)
        dataset = apply_clip(load_dataset(data, seed=seed), clip)
        if classes is not None:
            dataset = _keep_classes(dataset, classes)
        poisoned = attacker.poison(dataset)
        written = save_dataset(poisoned, out) if out is not None else None
        result = evaluate_poisoning(poisoned, _train_fn(epochs, seed), clean=dataset) if evaluate else None
        if json_out is not None:
            record = {"dataset": poisoned.to_dict(), "out": None if written is None else str(written)}
            record["evaluation"] = None if result is None else result.to_dict()
            json_out.write_text(json.dumps(record, indent=2) + "\n")

    table = Table(title=f"bastion attack poison: {attack} on {dataset.name}")
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("attack", poisoned.attack)
    table.add_row("training rows", str(len(poisoned.y_train)))
    table.add_row("poisoned rows", f"{poisoned.n_poison} ({poisoned.n_poison / len(poisoned.y_train):.1%})")
    if result is not None:
        table.add_row("test accuracy, clean training", _percent(result.clean_test_accuracy))
        _evaluation_rows(table, "after poisoning", result)
        if result.clean_attack_success_rate is not None:
            table.add_row("trigger's success on the clean model", _percent(result.clean_attack_success_rate))
    console.print(table)
    if written is not None:
        console.print(f"saved to {written}")
    if result is None:
        console.print("verdict: poisoned; run with --evaluate to measure the damage")
    elif result.attack_success_rate is not None:
        console.print(
            f"verdict: the backdoor works on {result.attack_success_rate:.0%} of triggered test inputs "
            f"at a {result.accuracy_drop:+.1%} accuracy cost"
        )
    else:
        console.print(f"verdict: poisoning cost {result.accuracy_drop:.1%} of test accuracy")


@defend_app.command(
    "sanitize",
    help=(
        "Find and remove suspicious training rows of a dataset, and save the cleaned dataset.\n\n"
        "Methods: spectre (Hayase et al. 2021: robust whitening and QUE scores, each class's contamination "
        "estimated; the strongest against backdoors), spectral_signatures (Tran et al. 2018), activation_clustering "
        "(Chen et al. 2018), outliers (isolation forest per class), knn_label (label flips: neighbours that "
        "disagree with the label) and loss (highest training loss). The model-based ones train bastion's zoo "
        "network on the data themselves. --rounds N retrains and detects again N times.\n\n"
        "When the data carries a poison mask (written by `bastion attack poison`), the table gives the "
        "precision and recall of the removal; --evaluate trains on the data before and after and reports "
        "accuracy and the backdoor's attack success."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion defend sanitize --data poisoned.npz --method spectre --out cleaned.npz\n\n"
        "  bastion defend sanitize --data flipped.npz --method knn_label --evaluate --json cleaning.json\n\n"
        "  bastion defend sanitize --data poisoned.npz --method spectral_signatures --rounds 4"
    ),
)
def sanitize(
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "digits",
    method: Annotated[str, typer.Option(help=f"The sanitizer: {', '.join(SANITIZERS)}.")] = "spectre",
    rounds: Annotated[int, typer.Option(help="Detection rounds, each on the data the last one kept.")] = 1,
    seed: Annotated[int, typer.Option(help="Seeds the split (embedded data), the sanitizer and models.")] = 0,
    out: Annotated[Path | None, typer.Option(help="The .npz to write the cleaned dataset to.")] = None,
    evaluate: Annotated[bool, typer.Option(help="Train before and after cleaning; report the difference.")] = False,
    epochs: Annotated[int, typer.Option(help="Training epochs of the --evaluate models.")] = 15,
    json_out: JsonOption = None,
    clip: ClipOption = None,
) -> None:
    """Find and remove suspicious training rows; save the cleaned dataset."""
    with reported_errors():
        check_choice(method, "--method", tuple(SANITIZERS))
        check_scalar(rounds, "--rounds", kind=int, low=1)
        check_scalar(epochs, "--epochs", kind=int, low=1)
        base = SANITIZERS[method]() if method == "knn_label" else SANITIZERS[method](seed=seed)
        sanitizer = base if rounds == 1 else Iterative(base, rounds=rounds)
        dataset = apply_clip(load_dataset(data, seed=seed), clip)
        result = sanitizer.clean(dataset)
        written = save_dataset(result.dataset, out, removed_mask=result.removed_mask) if out is not None else None
        before = after = None
        if evaluate:
            train_fn = _train_fn(epochs, seed)
            before = evaluate_poisoning(dataset, train_fn)
            after = evaluate_poisoning(result.dataset, train_fn)
        if json_out is not None:
            record = {"cleaning": result.to_dict(), "out": None if written is None else str(written)}
            record["before"] = None if before is None else before.to_dict()
            record["after"] = None if after is None else after.to_dict()
            json_out.write_text(json.dumps(record, indent=2) + "\n")

    table = Table(title=f"bastion defend sanitize: {method} on {dataset.name}")
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("defense", result.defense)
    table.add_row("rows removed", f"{result.n_removed} of {result.removed_mask.size}")
    known = isinstance(dataset, PoisonedDataset)
    if known:
        table.add_row("poisoned rows", str(dataset.n_poison))
        table.add_row("precision (removed that were poison)", _percent(result.precision))
        table.add_row("recall (poison removed)", _percent(result.recall))
        table.add_row("clean rows removed", _percent(result.clean_removed_fraction))
    if before is not None and after is not None:
        _evaluation_rows(table, "before", before)
        _evaluation_rows(table, "after", after)
    table.add_row("seconds", f"{result.seconds:.1f}")
    console.print(table)
    if written is not None:
        console.print(f"saved to {written}")
    if not known:
        console.print(f"verdict: removed {result.n_removed} rows; no poison mask in the data to score them against")
    else:
        console.print(
            f"verdict: removed {result.recall:.0%} of the poison at the cost of "
            f"{result.clean_removed_fraction:.1%} of the clean rows"
        )
