"""What the command modules share: the consoles, error reporting and loading inputs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

import bastion
from bastion.exceptions import BastionError, ValidationError
from bastion.models import io

console = Console()
error_console = Console(stderr=True)

# Options several commands share, declared once so their names and help stay the same.
TrustCodeOption = Annotated[bool, typer.Option(help="Accept a TorchScript model (it is code; only if you trust it).")]
TrustTypeOption = Annotated[
    list[str] | None,
    typer.Option(metavar="TYPE", help="A skops type to trust beyond skops' defaults (repeatable)."),
]
JsonOption = Annotated[Path | None, typer.Option("--json", help="Also write the result as JSON to this file.")]


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a BastionError into one red line on stderr and exit code 2."""
    try:
        yield
    except BastionError as error:
        print_error(error)
        raise typer.Exit(2) from error


def print_error(error: BaseException) -> None:
    """One red ``error:`` line on stderr: newlines folded, the text never read as rich markup.

    A message quotes file names and file contents, which an attacker chooses: ``[`` in them
    must print as it is, and a multi-line message must stay one line.
    """
    text = " ".join(str(error).split())
    error_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False, markup=True, soft_wrap=True)


def load_data(name_or_path: str, *, seed: int) -> bastion.Dataset:
    """A dataset by name (digits, breast_cancer) or path (.npz, IDX folder)."""
    return bastion.load(name_or_path, seed=seed)


def load_model(path: Path, *, trust_code: bool = False, trusted: Sequence[str] = ()) -> Any:
    """A model saved by ``bastion train`` (or any file :func:`bastion.models.io.load` reads)."""
    return io.load(path, trust_code=trust_code, trusted=tuple(trusted))


def check_compatible(model: Any, data: bastion.Dataset, model_path: Path) -> None:
    """Refuse a dataset whose samples or classes do not fit the model."""
    if tuple(model.input_shape) != tuple(data.input_shape):
        raise ValidationError(
            f"the model in {model_path} expects samples of shape {tuple(model.input_shape)}, but dataset "
            f"{data.name!r} has samples of shape {tuple(data.input_shape)}; use the data it was trained on"
        )
    if model.n_classes != data.n_classes:
        raise ValidationError(
            f"the model in {model_path} has {model.n_classes} classes, but dataset {data.name!r} has {data.n_classes}"
        )
