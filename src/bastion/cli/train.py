"""``bastion train``: train a reference model and save it safely."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bastion.cli.app import app
from bastion.cli.common import ClipOption, console, load_data, reported_errors
from bastion.models import TorchModel, fit, io, zoo
from bastion.validation import check_choice


@app.command(
    "train",
    help=(
        "Train a reference model (a zoo architecture) and save it without pickle.\n\n"
        "The model is saved as safetensors weights plus a JSON spec recording their SHA-256, so "
        "`bastion attack` (and bastion.models.io.load) rebuild it without running code from the file. "
        "Prints the train and test accuracy and where the model went."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion train --data digits --arch small_cnn --epochs 15 --out model/\n\n"
        "  bastion train --data breast_cancer --arch mlp --epochs 30 --out cancer-mlp/\n\n"
        "  bastion train --data my_data.npz --arch mlp --lr 0.003 --out mine/\n\n"
        "Then attack it: bastion attack evasion --model model/ --data digits --attack pgd --eps 0.1"
    ),
)
def train(
    data: Annotated[
        str,
        typer.Option(
            help="Dataset: digits, breast_cancer, an .npz file (x_train, y_train, x_test, y_test) "
            "or a folder of MNIST-style IDX files."
        ),
    ] = "digits",
    arch: Annotated[
        str, typer.Option(help=f"Architecture: {', '.join(zoo.ARCHITECTURES)} (small_cnn needs images).")
    ] = "small_cnn",
    epochs: Annotated[int, typer.Option(help="Passes over the training split.")] = 15,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Samples per optimisation step.")] = 64,
    seed: Annotated[int, typer.Option(help="Seeds the train/test split, the initial weights and the shuffling.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder to save the model in (weights.safetensors + model.json).")] = Path(
        "model"
    ),
    progress: Annotated[bool, typer.Option(help="Show a progress bar while training.")] = True,
    clip: ClipOption = None,
) -> None:
    """Train a reference model (a zoo architecture) and save it without pickle."""
    with reported_errors():
        check_choice(arch, "--arch", tuple(zoo.ARCHITECTURES))
        dataset = load_data(data, seed=seed, clip=clip)
        module = zoo.ARCHITECTURES[arch](dataset.input_shape, dataset.n_classes, seed=seed)
        fit(
            module,
            dataset.x_train,
            dataset.y_train,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            progress=progress,
            description=f"training {arch} on {dataset.name}",
        )
        model = TorchModel(module, input_shape=dataset.input_shape, n_classes=dataset.n_classes)
        train_accuracy = float((model.predict(dataset.x_train) == dataset.y_train).mean())
        test_accuracy = float((model.predict(dataset.x_test) == dataset.y_test).mean())
        folder = io.save(model, out, test_accuracy=test_accuracy)

    table = Table(title=f"bastion train: {arch} on {dataset.name}", min_width=60)
    table.add_column("field")
    table.add_column("value")
    table.add_row("architecture", arch)
    table.add_row("dataset", dataset.name)
    table.add_row("train samples", str(len(dataset.x_train)))
    table.add_row("test samples", str(len(dataset.x_test)))
    table.add_row("epochs", str(epochs))
    table.add_row("train accuracy", f"{train_accuracy:.2%}")
    table.add_row("test accuracy", f"{test_accuracy:.2%}")
    table.add_row("saved to", str(folder))
    console.print(table)
