"""``bastion keys``: create, list and revoke the gateway's API keys (no FastAPI needed)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bastion.cli.app import keys_app
from bastion.cli.common import JsonOption, console, reported_errors
from bastion.serve.sqlite import SQLiteStore

DbOption = Annotated[
    Path, typer.Option("--db", help="The gateway's SQLite database (keys, quotas, audit log); created if missing.")
]
DEFAULT_DB = Path("bastion-serve.db")


@keys_app.command(
    "create",
    help=(
        "Create an API key and print it once: only a salted HMAC of it is stored, so it cannot be shown again.\n\n"
        "Policies: probs (full probabilities), top1 or top:K (the K largest confidences), label (labels only), "
        "round:D (confidences rounded to D decimals), noise:S (Gaussian noise of std S on the confidences)."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion keys create --name alice --quota 10000 --rate 20/s --policy round:2\n\n"
        "  bastion keys create --name partner --policy label --db /var/lib/bastion/serve.db"
    ),
)
def create(
    name: Annotated[str, typer.Option(help="Who the key is for (unique; appears in the audit log and metrics).")],
    quota: Annotated[int | None, typer.Option(help="Total inputs the key may have answered (default: none).")] = None,
    rate: Annotated[str | None, typer.Option(help="Token-bucket rate in inputs: 20/s, 1000/min, 5000/h.")] = None,
    policy: Annotated[str, typer.Option(help="Output policy: probs, top1, top:K, label, round:D, noise:S.")] = "probs",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Create an API key and print it once."""
    with reported_errors():
        token = SQLiteStore(db).create_key(name, policy=policy, quota=quota, rate=rate)
    console.print(f"key for {name!r} (shown once, store it now; only its salted HMAC is kept):", highlight=False)
    # Plain print: rich could wrap the token.
    typer.echo(token)


@keys_app.command("list", help="List the keys: name, policy, quota used and left, rate, state. Never the keys.")
def list_keys(db: DbOption = DEFAULT_DB, json_out: JsonOption = None) -> None:
    """List the keys (never the keys themselves)."""
    with reported_errors():
        records = SQLiteStore(db).list_keys()
    if json_out is not None:
        rows = [
            {
                "name": r.name,
                "key_id": r.key_id,
                "policy": r.policy,
                "quota": r.quota,
                "used": r.used,
                "remaining": r.remaining,
                "rate": r.rate,
                "revoked": r.revoked_at is not None,
                "revoked_reason": r.revoked_reason,
            }
            for r in records
        ]
        json_out.write_text(json.dumps(rows, indent=2) + "\n")
    table = Table(title=f"bastion keys in {db}")
    for column in ("name", "id", "policy", "used / quota", "rate", "state", "created"):
        table.add_column(column)
    for r in records:
        state = "active" if r.revoked_at is None else f"revoked ({r.revoked_reason})"
        quota = f"{r.used:,} / {'-' if r.quota is None else f'{r.quota:,}'}"
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.created_at))
        table.add_row(r.name, r.key_id, r.policy, quota, r.rate or "-", state, created)
    console.print(table)
    active = sum(r.revoked_at is None for r in records)
    console.print(f"{len(records)} keys, {active} active.")


@keys_app.command("revoke", help="Revoke a key by name: its next request is answered 403. Its audit rows stay.")
def revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Revoke a key by name."""
    with reported_errors():
        SQLiteStore(db).revoke_key(name)
    console.print(f"revoked the key of {name!r}.", highlight=False)
