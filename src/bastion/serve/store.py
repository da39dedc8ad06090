"""The one small interface between the gateway and where keys, quotas and the audit log live.

The gateway needs six operations; :class:`~bastion.serve.sqlite.SQLiteStore` implements
them on one SQLite file, and a store for a fleet of servers (PostgreSQL) implements the same
:class:`Store` protocol (``docs/serving.md`` says how). The contract that matters is
:meth:`Store.commit`: one transaction that, for every charge of a group, checks the key is
still active, checks and debits its quota and rate, and appends the audit row; either all
of it is durable when it returns, or it raises :class:`StoreUnavailableError` and nothing is.
The gateway answers a query only after ``commit`` returned ``"ok"`` for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

OK = "ok"
QUOTA = "quota_exhausted"
RATE = "rate_limited"
REVOKED = "revoked"
BLOCKED = "blocked"


class StoreUnavailableError(Exception):
    """The store cannot durably record (read-only, disk full, locked): fail closed."""


@dataclass(frozen=True)
class KeyRecord:
    """One API key as stored: never the key itself.

    Attributes:
        name: the owner's name (unique).
        key_id: the public part of the key, used to find the record.
        policy: the output policy (:mod:`bastion.serve.policies`).
        quota: total inputs the key may have answered, ``None`` for no limit.
        used: inputs answered so far.
        rate: the token-bucket rate (``"20/s"``), ``None`` for no limit.
        created_at: UNIX time of creation.
        revoked_at: UNIX time of revocation, ``None`` while active.
        revoked_reason: why (``"revoked"``, or the alert that blocked it).
    """

    name: str
    key_id: str
    policy: str
    quota: int | None
    used: int
    rate: str | None
    created_at: float
    revoked_at: float | None = None
    revoked_reason: str | None = None
    salt: bytes = field(default=b"", repr=False)
    digest: bytes = field(default=b"", repr=False)

    @property
    def remaining(self) -> int | None:
        """Inputs left in the quota, ``None`` without a quota."""
        return None if self.quota is None else max(0, self.quota - self.used)


@dataclass(frozen=True)
class Charge:
    """One answered query, to be debited and logged.

    Attributes:
        key_name: whose query.
        n_inputs: inputs in the batch (what the quota and rate count).
        digest: SHA-256 of the inputs (float32 bytes and shape), hex.
        policy: the output policy applied.
        at: UNIX time the query arrived.
        alerts: detector tags active for this key (``"prada"``), empty if none.
        new_alert: a detector's message when it flagged the key at this query, else ``None``.
        block: refuse this query and revoke the key (``--on-alert block``).
    """

    key_name: str
    n_inputs: int
    digest: str
    policy: str
    at: float
    alerts: tuple[str, ...] = ()
    new_alert: str | None = None
    block: bool = False


@dataclass(frozen=True)
class Outcome:
    """What the store decided for one charge.

    Attributes:
        status: ``"ok"`` (debited and logged), ``"quota_exhausted"``, ``"rate_limited"``,
            ``"revoked"`` or ``"blocked"``.
        audit_id: the audit row's id when ``"ok"``.
        remaining: inputs left in the quota after this charge (``None`` without quota).
        retry_after_s: seconds until a retry can succeed (rate), for ``Retry-After``.
    """

    status: str
    audit_id: int | None = None
    remaining: int | None = None
    retry_after_s: int | None = None


@dataclass(frozen=True)
class AuditRow:
    """One row of the audit log."""

    id: int
    key_name: str
    at: float
    n_inputs: int
    digest: str
    policy: str
    alerts: str


class Store(Protocol):
    """Keys, quotas and the audit log, behind the operations the gateway uses."""

    def create_key(self, name: str, *, policy: str, quota: int | None, rate: str | None) -> str:
        """Store a new key and return its token (the only time it exists in clear)."""

    def list_keys(self) -> list[KeyRecord]:
        """Every key, active or revoked."""

    def find_key(self, key_id: str) -> KeyRecord | None:
        """The key with this public id, or ``None``."""

    def revoke_key(self, name: str, reason: str = "revoked") -> None:
        """Revoke a key by name (idempotent)."""

    def commit(self, charges: list[Charge]) -> list[Outcome]:
        """Decide, debit and log a group of charges in one durable transaction."""

    def audit(self, key_name: str | None = None) -> list[AuditRow]:
        """The audit log, oldest first, optionally of one key."""
