"""``bastion defend adversarial-training`` and ``bastion defend distill``: harden a model, save it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bastion.cli.app import defend_app
from bastion.cli.common import ClipOption, console, load_data, reported_errors
from bastion.defenses import AdversarialTraining, DefensiveDistillation
from bastion.defenses.adversarial_training import METHODS
from bastion.models import io, zoo
from bastion.validation import check_choice

ARCH_HELP = f"Architecture: {', '.join(zoo.ARCHITECTURES)} (small_cnn needs images)."
DATA_HELP = "Dataset: digits, breast_cancer, an .npz file (x_train, y_train, x_test, y_test) or an IDX folder."


def _accuracy(model: Any, x, y) -> float:
    return float((model.predict(x) == y).mean())


@defend_app.command(
    "adversarial-training",
    help=(
        "Train a model on adversarial examples crafted against itself, and save it.\n\n"
        "Methods: pgd (Madry et al. 2018: PGD examples, --steps 7 by default), fgsm_rs (Wong et al. 2020, "
        "'Fast is better than free': one FGSM step from a random start, with a check for catastrophic "
        "overfitting) and trades (Zhang et al. 2019: clean loss + --beta x KL to the adversarial prediction). "
        "Prints one row per epoch (clean and adversarial loss, PGD accuracy on a fixed training batch), the "
        "clean test accuracy and where the model went.\n\n"
        "Measure what it bought with `bastion evaluate robustness`."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion defend adversarial-training --data digits --method pgd --eps 0.2 --epochs 30 --out at-pgd/\n\n"
        "  bastion defend adversarial-training --method fgsm_rs --lr 5e-3 --lr-schedule cyclic --out at-fast/\n\n"
        "  bastion defend adversarial-training --method trades --beta 6 --eps 0.2 --out at-trades/\n\n"
        "Then: bastion evaluate robustness --model at-pgd/ --data digits --eps 0.05,0.1,0.2"
    ),
)
def adversarial_training(
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "digits",
    arch: Annotated[str, typer.Option(help=ARCH_HELP)] = "small_cnn",
    method: Annotated[str, typer.Option(help=f"Training method: {', '.join(METHODS)}.")] = "pgd",
    eps: Annotated[float, typer.Option(help="Radius of the threat model in input units (0.2 = 20% of [0, 1]).")] = 0.2,
    norm: Annotated[str, typer.Option(help="Threat model: inf or 2.")] = "inf",
    steps: Annotated[
        int | None, typer.Option(help="Attack steps per minibatch (default: 7 for pgd, 10 for trades, 1 for fgsm_rs).")
    ] = None,
    beta: Annotated[float, typer.Option(help="TRADES's robustness weight.")] = 6.0,
    epochs: Annotated[int, typer.Option(help="Passes over the training split.")] = 30,
    lr: Annotated[float, typer.Option(help="Adam learning rate (the peak one with --lr-schedule cyclic).")] = 1e-3,
    lr_schedule: Annotated[
        str, typer.Option(help="constant, or cyclic (0 -> --lr at 2/5 of training -> 0, Wong et al.'s recipe).")
    ] = "constant",
    batch_size: Annotated[int, typer.Option(help="Samples per optimisation step.")] = 64,
    seed: Annotated[int, typer.Option(help="Seeds the split, the initial weights, shuffling and random starts.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder to save the hardened model in.")] = Path("model-adversarial"),
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the history as JSON here.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar while training.")] = True,
    clip: ClipOption = None,
) -> None:
    """Train a model on adversarial examples crafted against itself, and save it."""
    with reported_errors():
        check_choice(arch, "--arch", tuple(zoo.ARCHITECTURES))
        trainer = AdversarialTraining(
            method=method,
            eps=eps,
            norm=norm,
            steps=steps,
            beta=beta,
            epochs=epochs,
            lr=lr,
            lr_schedule=lr_schedule,
            batch_size=batch_size,
            progress=progress,
            seed=seed,
        )
        dataset = load_data(data, seed=seed, clip=clip)
        build = zoo.ARCHITECTURES[arch]
        model = trainer.fit(lambda: build(dataset.input_shape, dataset.n_classes, seed=seed), dataset).model_
        test_accuracy = _accuracy(model, dataset.x_test, dataset.y_test)
        folder = io.save(model, out, test_accuracy=test_accuracy)
        if json_out is not None:
            record = {
                "method": method,
                "eps": eps,
                "data": dataset.name,
                "test_accuracy": test_accuracy,
                "catastrophic_overfitting": trainer.catastrophic_overfitting_,
                "seconds": trainer.seconds_,
                "history": [r.to_dict() for r in trainer.history_],
            }
            json_out.write_text(json.dumps(record, indent=2) + "\n")

    table = Table(title=f"bastion defend adversarial-training: {method}, eps={eps:g} ({norm}) on {dataset.name}")
    for column in ("epoch", "clean loss", "adv. loss", "objective", "PGD acc.", "seconds"):
        table.add_column(column, justify="right")
    for r in trainer.history_:
        table.add_row(
            str(r.epoch),
            f"{r.clean_loss:.4f}",
            f"{r.adversarial_loss:.4f}",
            f"{r.objective:.4f}",
            f"{r.monitor_robust_accuracy:.1%}",
            f"{r.seconds:.1f}",
        )
    console.print(table)
    console.print("PGD acc.: accuracy under PGD on a fixed batch of training data, after each epoch")
    console.print(f"clean test accuracy: {test_accuracy:.2%}; training time {trainer.seconds_:.1f} s")
    if trainer.catastrophic_overfitting_:
        console.print(
            f"[bold yellow]catastrophic overfitting detected[/]: kept epoch {trainer.best_epoch_} (best PGD accuracy)"
        )
    console.print(f"saved to {folder}")


@defend_app.command(
    "distill",
    help=(
        "Defensive distillation (Papernot et al. 2016): train a teacher at temperature T, a student on "
        "the teacher's soft labels at T, and save the student, deployed at T = 1.\n\n"
        "Caution: distillation hides the cross-entropy gradient (its softmax saturates) rather than "
        "making the model robust; Carlini & Wagner's margin attacks break it. "
        "`bastion evaluate robustness` shows both facts and flags the gradient masking."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion defend distill --data digits --temperature 20 --epochs 15 --out distilled/\n\n"
        "  bastion defend distill --data digits --arch mlp --temperature 50 --out distilled-mlp/\n\n"
        "Then: bastion evaluate robustness --model distilled/ --data digits --eps 0.1,0.2"
    ),
)
def distill(
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "digits",
    arch: Annotated[str, typer.Option(help=ARCH_HELP)] = "small_cnn",
    temperature: Annotated[float, typer.Option(help="Distillation temperature T > 0.")] = 20.0,
    epochs: Annotated[int, typer.Option(help="Epochs of the teacher and of the student.")] = 15,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Samples per optimisation step.")] = 64,
    seed: Annotated[int, typer.Option(help="Seeds the split, the initial weights and the shuffling.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder to save the student in.")] = Path("model-distilled"),
    progress: Annotated[bool, typer.Option(help="Show progress bars while training.")] = True,
    clip: ClipOption = None,
) -> None:
    """Defensive distillation: teacher at T, student on its soft labels at T, deployed at T = 1."""
    with reported_errors():
        check_choice(arch, "--arch", tuple(zoo.ARCHITECTURES))
        distiller = DefensiveDistillation(
            temperature=temperature, epochs=epochs, lr=lr, batch_size=batch_size, progress=progress, seed=seed
        )
        dataset = load_data(data, seed=seed, clip=clip)
        build = zoo.ARCHITECTURES[arch]
        model = distiller.fit(lambda: build(dataset.input_shape, dataset.n_classes, seed=seed), dataset).model_
        teacher_accuracy = _accuracy(distiller.teacher_, dataset.x_test, dataset.y_test)
        student_accuracy = _accuracy(model, dataset.x_test, dataset.y_test)
        saturated = float((model.predict_proba(dataset.x_test).max(axis=1) == 1.0).mean())
        folder = io.save(model, out, test_accuracy=student_accuracy)

    table = Table(title=f"bastion defend distill: {arch} on {dataset.name}, T={temperature:g}")
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("teacher test accuracy", f"{teacher_accuracy:.2%}")
    table.add_row("student test accuracy (T = 1)", f"{student_accuracy:.2%}")
    table.add_row("test inputs with a saturated softmax", f"{saturated:.1%}")
    table.add_row("training seconds", f"{distiller.seconds_:.1f}")
    table.add_row("saved to", str(folder))
    console.print(table)
