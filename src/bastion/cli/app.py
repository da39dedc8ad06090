"""The typer application and its command groups; command modules register onto these.

The command modules import torch and scikit-learn, which take seconds. :class:`LazyGroup`
imports them only when a command runs (or a group's help is asked for): ``bastion --help``
and ``bastion --version`` print from the short descriptions in :data:`COMMANDS` at once.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Annotated, Any

import typer
from typer import _click as click  # typer 0.29 vendors click: its exceptions and classes live here
from typer.core import TyperCommand, TyperGroup

import bastion

# The modules that register commands, in bastion.cli.
COMMAND_MODULES = (
    "assess",
    "defenses",
    "evasion",
    "extraction",
    "keys",
    "membership",
    "micromodels",
    "pate",
    "poisoning",
    "robustness",
    "scan",
    "serve",
    "train",
)
# The top-level commands and their one-line help, as `bastion --help` lists them without
# importing the command modules (tests/cli/test_startup.py checks they match the real ones).
COMMANDS = {
    "assess": "Run the whole threat matrix on a model and write a report a person reads.",
    "attack": "Attack a model: evasion, extraction, membership inference; poison a dataset.",
    "defend": "Harden a model: adversarial training, distillation, PATE; sanitize a dataset or training traffic.",
    "evaluate": "Measure a model's robustness.",
    "keys": "Manage the serving gateway's API keys: create, list, revoke.",
    "scan": "Inspect model files for what they would do when loaded, without loading them.",
    "serve": "Serve a saved model behind the hardened gateway: API keys, quotas and rates, output policies, "
    "PRADA extraction detection and an audit log that never loses an answered query.",
    "train": "Train a reference model (a zoo architecture) and save it without pickle.",
}


def load_commands() -> None:
    """Import every command module, which registers its commands on the groups below."""
    for name in COMMAND_MODULES:
        import_module(f"bastion.cli.{name}")


class LazyGroup(TyperGroup):
    """The top-level group: lists :data:`COMMANDS` without importing them, loads them to run one."""

    _group: click.Command | None = None

    def _loaded(self) -> click.Command:
        if self._group is None:
            load_commands()
            self._group = typer.main.get_group(app)
        return self._group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    _listing = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if self._listing and self._group is None:
            # Help only shows each command's short help: a stub carries it.
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name]) if cmd_name in COMMANDS else None
        return self._loaded().commands.get(cmd_name)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run the command; a bad flag or value prints one ``error:`` line (not a box), exit 2."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as error:
            error.show()
            sys.exit(error.exit_code)
        except click.exceptions.UsageError as error:
            where = f"; see '{error.ctx.command_path} --help'" if error.ctx is not None else ""
            click.echo(f"error: {error.format_message().rstrip('.')}{where}", err=True)
            sys.exit(error.exit_code)
        except click.exceptions.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except typer.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The top-level help in click's plain layout: typer's rich layout alone costs ~0.15 s of
        imports (rich.markdown, rich.traceback, pygments), half of ``bastion --help``'s start-up.
        Each command's own help keeps the rich layout."""
        self._listing = True
        try:
            super(TyperGroup, self).format_help(ctx, formatter)
        finally:
            self._listing = False


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bastion {bastion.__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=LazyGroup,
    name="bastion",
    help=(
        "Red-team a machine-learning model and harden it.\n\n"
        "Train a reference model, attack it (evasion, extraction, membership inference), "
        "harden it (adversarial training, distillation, PATE) and evaluate what the defense bought."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"max_content_width": 120},
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
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print bastion's version and exit."),
    ] = False,
) -> None:
    """Options of every command."""
    from bastion.determinism import set_deterministic
    from bastion.limits import set_limits

    if deterministic:
        set_deterministic(True)
    if max_bytes is not None:
        set_limits(max_bytes=max_bytes)


app.add_typer(attack_app, name="attack")
app.add_typer(defend_app, name="defend")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(keys_app, name="keys")
