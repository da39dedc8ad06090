"""What the command modules share: the consoles, error reporting and loading inputs."""

from __future__ import annotations

import os
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
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Attack a live `bastion serve` gateway at this URL instead of a model file."),
]
ApiKeyEnvOption = Annotated[
    str, typer.Option("--api-key-env", metavar="VAR", help="The environment variable holding the --url gateway's key.")
]
DEFAULT_API_KEY_ENV = "BASTION_API_KEY"


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


def load_model(path: Path, *, trust_code: bool = False, trusted: Sequence[str] = (), need: str | None = None) -> Any:
    """A model saved by ``bastion train`` (or any file :func:`bastion.models.io.load` reads).

    ``need="gradients"`` gives the white-box view of an ONNX graph (see ``io.load``).
    """
    return io.load(path, trust_code=trust_code, trusted=tuple(trusted), need=need)


def load_target(
    model: Path | None,
    url: str | None,
    api_key_env: str,
    *,
    trust_code: bool = False,
    trusted: Sequence[str] = (),
    need: str | None = None,
) -> Any:
    """The attack's target: a saved model (``--model``) or a live gateway (``--url``).

    ``need="gradients"`` gives the white-box view of an ONNX graph (see ``io.load``).

    The key of a gateway is read from the environment variable ``api_key_env``, never from
    the command line (where shell histories and process lists would show it).

    Raises:
        ValidationError: neither or both of ``--model`` and ``--url``, or the variable is unset.
    """
    if (model is None) == (url is None):
        raise ValidationError("give exactly one target: --model PATH (a saved model) or --url URL (a live gateway)")
    if model is not None:
        return load_model(model, trust_code=trust_code, trusted=trusted, need=need)
    from bastion.models.remote import RemoteModel

    key = os.environ.get(api_key_env, "").strip()
    if not key:
        raise ValidationError(
            f"--url needs the gateway's API key in the environment variable {api_key_env} (--api-key-env), "
            "which is unset or empty"
        )
    return RemoteModel(url, key)


def check_compatible(model: Any, data: bastion.Dataset, model_path: Path | str) -> None:
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
