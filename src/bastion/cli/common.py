"""What the command modules share: the consoles, error reporting and loading inputs."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from typer._click.globals import get_current_context

import bastion
from bastion.cli.messages import cli_message
from bastion.data.rescale import clipped_fraction, rescale
from bastion.exceptions import BastionError, ValidationError
from bastion.models import io
from bastion.models.sanity import ScalingMismatchWarning, warn_if_low_accuracy

DatasetT = TypeVar("DatasetT", bound=bastion.Dataset)

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
ClipOption = Annotated[
    str | None,
    typer.Option(
        "--clip",
        metavar="LOW,HIGH",
        help="Rescale data in another range linearly from [LOW, HIGH] to [0, 1] (values outside are clipped), "
        "e.g. --clip 0,255.",
    ),
]
ProgressOption = Annotated[
    bool, typer.Option(help="Show progress bars on stderr (off with --json, and with --no-progress).")
]


def show_progress(progress: bool, json_out: Path | None) -> bool:
    """Progress bars are on unless ``--no-progress`` or ``--json`` (machine-read runs stay quiet)."""
    return progress and json_out is None


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a BastionError into one red line on stderr and exit code 2."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ScalingMismatchWarning)
            yield
    except BastionError as error:
        print_error(error)
        raise typer.Exit(2) from error
    finally:
        # The first says it; the library repeats it for each evaluation of the same data.
        mismatch = [str(w.message) for w in caught if w.category is ScalingMismatchWarning][:1]
        for warning in mismatch:
            error_console.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
        for other in caught:
            if other.category is not ScalingMismatchWarning:
                warnings.showwarning(other.message, other.category, other.filename, other.lineno)


def _flags() -> dict[str, str]:
    """The running command's parameter names and their flags (``n_samples`` -> ``--n-samples``)."""
    context = get_current_context(silent=True)
    if context is None:
        return {}
    return {param.name: max(param.opts, key=len) for param in context.command.params if param.name and param.opts}


def print_error(error: BaseException) -> None:
    """One red ``error:`` line on stderr, in the CLI's words: newlines folded, never read as rich markup.

    Library names in the message become the command's flags (see :mod:`bastion.cli.messages`).
    A message quotes file names and file contents, which an attacker chooses: ``[`` in them
    must print as it is, and a multi-line message must stay one line.
    """
    text = cli_message(" ".join(str(error).split()), _flags())
    error_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False, markup=True, soft_wrap=True)


def parse_clip(text: str) -> tuple[float, float]:
    """``"0,255"`` -> ``(0.0, 255.0)``.

    Raises:
        ValidationError: not two finite numbers ``LOW,HIGH`` with ``LOW < HIGH``.
    """
    expected = f"`--clip` expects LOW,HIGH with LOW < HIGH, e.g. --clip 0,255; received {text!r}"
    parts = text.split(",")
    try:
        low, high = (float(part) for part in parts)
    except ValueError as error:
        raise ValidationError(expected) from error
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValidationError(expected)
    return low, high


def load_data(name_or_path: str, *, seed: int, clip: str | None = None) -> bastion.Dataset:
    """A dataset by name (digits, breast_cancer) or path (.npz, IDX folder), rescaled by ``--clip``."""
    return apply_clip(bastion.load(name_or_path, seed=seed), clip)


def apply_clip(dataset: DatasetT, clip: str | None) -> DatasetT:
    """``dataset`` rescaled by ``--clip``: with ``clip="LOW,HIGH"`` the features are mapped
    linearly from [LOW, HIGH] to [0, 1] (:func:`bastion.data.rescale.rescale`) and one line
    says so; without it, ``dataset`` unchanged."""
    if clip is None:
        return dataset
    bounds = parse_clip(clip)
    outside = clipped_fraction(dataset, *bounds)
    dataset = rescale(dataset, *bounds)
    clipped = f"; {outside:.2%} of the values lay outside and were clipped" if outside else ""
    console.print(
        f"data rescaled linearly from [{bounds[0]:g}, {bounds[1]:g}] to [0, 1] (--clip){clipped}",
        highlight=False,
        markup=False,
    )
    return dataset


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
    """Refuse a dataset whose samples, classes or value range do not fit the model.

    For a model file, its clean accuracy on the test split is then checked against what it
    should reach (and against the accuracy ``bastion train`` recorded): far below warns of a
    scaling mismatch. Those predictions are not counted in the model's queries.
    """
    if tuple(model.input_shape) != tuple(data.input_shape):
        raise ValidationError(
            f"the model in {model_path} expects samples of shape {tuple(model.input_shape)}, but dataset "
            f"{data.name!r} has samples of shape {tuple(data.input_shape)}; use the data it was trained on"
        )
    if model.n_classes != data.n_classes:
        raise ValidationError(
            f"the model in {model_path} has {model.n_classes} classes, but dataset {data.name!r} has {data.n_classes}"
        )
    low, high = (float(bound) for bound in model.clip)
    found_low = float(min(data.x_train.min(), data.x_test.min()))
    found_high = float(max(data.x_train.max(), data.x_test.max()))
    tolerance = 1e-6 * max(1.0, abs(low), abs(high))
    if found_low < low - tolerance or found_high > high + tolerance:
        raise ValidationError(
            f"dataset {data.name!r} has values in [{found_low:g}, {found_high:g}], outside the model's input range "
            f"[{low:g}, {high:g}] (the range eps is measured in); rescale it with --clip LOW,HIGH, e.g. "
            f"--clip {found_low:g},{found_high:g}, if that is the range your data comes in"
        )
    if isinstance(model_path, Path):
        before = model.queries
        accuracy = float((model.predict(data.x_test) == data.y_test).mean())
        if before == 0 and hasattr(model, "reset_queries"):
            model.reset_queries()
        warn_if_low_accuracy(accuracy, data.n_classes, len(data.y_test), recorded=io.recorded_accuracy(model_path))
