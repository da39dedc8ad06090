"""The typer application and its command groups; command modules register onto these."""

from __future__ import annotations

import typer

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
attack_app = typer.Typer(help="Attack a model: evasion, extraction, membership inference.", no_args_is_help=True)
defend_app = typer.Typer(help="Harden a model: adversarial training, distillation, PATE.", no_args_is_help=True)
evaluate_app = typer.Typer(help="Measure a model's robustness.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage the serving gateway's API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(attack_app, name="attack")
app.add_typer(defend_app, name="defend")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(keys_app, name="keys")
