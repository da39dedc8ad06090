"""The typer application and its command groups; command modules register onto these."""

from __future__ import annotations

from typing import Annotated

import typer

from bastion.determinism import set_deterministic
from bastion.limits import set_limits

app = typer.Typer(
    name="bastion",
    help=(
        "Red-team a machine-learning model and harden it.\n\n"
        "Train a reference model, attack it (evasion, extraction, membership inference), "
        "harden it (adversarial training, distillation, PATE) and evaluate what the defense bought."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
attack_app = typer.Typer(
    help="Attack a model: evasion, extraction, membership inference; poison a dataset.", no_args_is_help=True
)
defend_app = typer.Typer(
    help="Harden a model: adversarial training, distillation, PATE; sanitize a dataset or training traffic.",
    no_args_is_help=True,
)
evaluate_app = typer.Typer(help="Measure a model's robustness.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage the serving gateway's API keys: create, list, revoke.", no_args_is_help=True)


@app.callback()
def options(
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic",
            help="Deterministic torch algorithms and one thread: the same results whatever the thread settings.",
        ),
    ] = False,
    max_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-bytes",
            min=1,
            help="Largest buffer a file or argument may make bastion allocate (default 2 GiB; BASTION_MAX_BYTES).",
        ),
    ] = None,
) -> None:
    """Options of every command."""
    if deterministic:
        set_deterministic(True)
    if max_bytes is not None:
        set_limits(max_bytes=max_bytes)


app.add_typer(attack_app, name="attack")
app.add_typer(defend_app, name="defend")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(keys_app, name="keys")
