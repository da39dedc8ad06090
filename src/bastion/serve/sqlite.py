"""The SQLite store: keys, quotas, rate buckets, alerts and the audit log in one file.

WAL mode (readers never block the writer) with ``synchronous=FULL``: a committed
transaction is on disk before ``commit`` returns, so neither ``kill -9`` nor a power cut
loses an acknowledged query. Every group is one ``BEGIN IMMEDIATE`` transaction, which
SQLite serialises across processes: several server workers sharing the file debit quotas
exactly. Any SQLite error while writing (read-only file, disk or ``max_bytes`` full, lock
timeout) rolls the group back and raises :class:`~bastion.serve.store.StoreUnavailableError`.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from pathlib import Path

from bastion.exceptions import ValidationError
from bastion.serve import keys, ratelimit
from bastion.serve.policies import parse_policy
from bastion.serve.store import (
    BLOCKED,
    OK,
    QUOTA,
    RATE,
    REVOKED,
    AuditRow,
    Charge,
    KeyRecord,
    Outcome,
    StoreUnavailableError,
)
from bastion.validation import check_scalar

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    policy TEXT NOT NULL,
    quota INTEGER,
    used INTEGER NOT NULL DEFAULT 0,
    rate TEXT,
    tokens REAL,
    refilled_at REAL,
    created_at REAL NOT NULL,
    revoked_at REAL,
    revoked_reason TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_name TEXT NOT NULL,
    at REAL NOT NULL,
    n_inputs INTEGER NOT NULL,
    digest TEXT NOT NULL,
    policy TEXT NOT NULL,
    alerts TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_name TEXT NOT NULL,
    at REAL NOT NULL,
    message TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_key ON audit (key_name, id);
"""
KEY_COLUMNS = "name, key_id, policy, quota, used, rate, created_at, revoked_at, revoked_reason, salt, digest"
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}"


def _record(row: tuple) -> KeyRecord:
    return KeyRecord(*row[:9], salt=bytes(row[9]), digest=bytes(row[10]))


class SQLiteStore:
    """A :class:`~bastion.serve.store.Store` on one SQLite file.

    Args:
        path: the database file (created with its tables if missing).
        max_bytes: refuse to grow the file beyond this size (the gateway then fails closed
            with 503, as on a full disk); ``None`` for no limit.
        timeout_s: how long a writer waits for another process's transaction.

    Raises:
        ValidationError: ``path`` cannot be opened as a SQLite database.
    """

    def __init__(self, path: str | Path, *, max_bytes: int | None = None, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.max_bytes = None if max_bytes is None else check_scalar(max_bytes, "max_bytes", kind=int, low=65536)
        self.timeout_s = check_scalar(timeout_s, "timeout_s", low=0.0)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            connection = self._connection()
            present = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"keys", "audit", "alerts"} <= present:
                connection.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise ValidationError(f"`db` {str(self.path)!r} is not a usable SQLite database: {error}") from error

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # One connection per thread; check_same_thread=False only lets close() reach them all.
            connection = sqlite3.connect(
                str(self.path), timeout=self.timeout_s, isolation_level=None, check_same_thread=False
            )
            # A read-only file refuses WAL: reads still work, and every commit fails closed.
            with contextlib.suppress(sqlite3.OperationalError):
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            if self.max_bytes is not None:
                page_size = connection.execute("PRAGMA page_size").fetchone()[0]
                connection.execute(f"PRAGMA max_page_count={self.max_bytes // page_size}")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    # -- keys -------------------------------------------------------------------------

    def create_key(self, name: str, *, policy: str = "probs", quota: int | None = None, rate: str | None = None) -> str:
        """Store a new key and return its token, the only time it exists in clear.

        Raises:
            ValidationError: a malformed or taken name, a bad policy, quota or rate.
        """
        if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
            raise ValidationError(f"`name` must be 1-64 letters, digits or _.@- (starting alphanumeric), got {name!r}")
        policy = parse_policy(policy)
        if quota is not None:
            quota = check_scalar(quota, "quota", kind=int, low=0)
        bucket = None if rate is None else ratelimit.parse_rate(rate)
        key_id, token = keys.generate_key()
        secret = keys.split_key(token)[1]
        salt = keys.new_salt()
        now = time.time()
        try:
            self._connection().execute(
                "INSERT INTO keys (name, key_id, salt, digest, policy, quota, rate, tokens, refilled_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    key_id,
                    salt,
                    keys.digest(secret, salt),
                    policy,
                    quota,
                    None if bucket is None else str(bucket),
                    None if bucket is None else bucket.inputs,
                    now,
                    now,
                ),
            )
        except sqlite3.IntegrityError as error:
            raise ValidationError(f"`name` {name!r} is taken: names are unique, revoked keys included") from error
        except sqlite3.DatabaseError as error:
            raise ValidationError(f"cannot write the key to {str(self.path)!r}: {error}") from error
        return token

    def list_keys(self) -> list[KeyRecord]:
        """Every key, active or revoked, by creation time."""
        rows = self._connection().execute(f"SELECT {KEY_COLUMNS} FROM keys ORDER BY created_at, name")
        return [_record(row) for row in rows]

    def find_key(self, key_id: str) -> KeyRecord | None:
        """The key with this public id, or ``None``."""
        row = self._connection().execute(f"SELECT {KEY_COLUMNS} FROM keys WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else _record(row)

    def revoke_key(self, name: str, reason: str = "revoked") -> None:
        """Revoke a key by name; revoking a revoked key keeps its first reason.

        Raises:
            ValidationError: no key has this name.
        """
        connection = self._connection()
        if connection.execute("SELECT 1 FROM keys WHERE name = ?", (name,)).fetchone() is None:
            raise ValidationError(f"no key is named {name!r}; `bastion keys list` shows the names")
        connection.execute(
            "UPDATE keys SET revoked_at = ?, revoked_reason = ? WHERE name = ? AND revoked_at IS NULL",
            (time.time(), reason, name),
        )

    # -- the transaction --------------------------------------------------------------

    def commit(self, charges: list[Charge]) -> list[Outcome]:
        """Decide, debit and log a group of charges in one durable transaction.

        Raises:
            StoreUnavailableError: the transaction could not be made durable; nothing of it was.
        """
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                outcomes = [self._charge(connection, charge) for charge in charges]
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error
        return outcomes

    def _charge(self, connection: sqlite3.Connection, charge: Charge) -> Outcome:
        row = connection.execute(
            "SELECT quota, used, rate, tokens, refilled_at, revoked_at FROM keys WHERE name = ?", (charge.key_name,)
        ).fetchone()
        if charge.new_alert is not None:
            connection.execute(
                "INSERT INTO alerts (key_name, at, message, action) VALUES (?, ?, ?, ?)",
                (charge.key_name, charge.at, charge.new_alert, "block" if charge.block else "log"),
            )
        if row is None or row[5] is not None:
            return Outcome(REVOKED)
        quota, used, rate_text, tokens, refilled_at, _ = row
        remaining = None if quota is None else quota - used
        if charge.block:
            connection.execute(
                "UPDATE keys SET revoked_at = ?, revoked_reason = ? WHERE name = ?",
                (charge.at, f"blocked: {charge.new_alert or ', '.join(charge.alerts)}", charge.key_name),
            )
            return Outcome(BLOCKED, remaining=remaining)
        if remaining is not None and charge.n_inputs > remaining:
            return Outcome(QUOTA, remaining=remaining)
        level = None
        if rate_text is not None:
            rate = ratelimit.parse_rate(rate_text)
            now = time.time()
            level = ratelimit.refill(tokens, refilled_at, now, rate)
            if charge.n_inputs > level:
                return Outcome(RATE, remaining=remaining, retry_after_s=ratelimit.wait_s(level, charge.n_inputs, rate))
            connection.execute(
                "UPDATE keys SET tokens = ?, refilled_at = ? WHERE name = ?",
                (level - charge.n_inputs, now, charge.key_name),
            )
        connection.execute("UPDATE keys SET used = used + ? WHERE name = ?", (charge.n_inputs, charge.key_name))
        cursor = connection.execute(
            "INSERT INTO audit (key_name, at, n_inputs, digest, policy, alerts) VALUES (?, ?, ?, ?, ?, ?)",
            (charge.key_name, charge.at, charge.n_inputs, charge.digest, charge.policy, ",".join(charge.alerts)),
        )
        return Outcome(
            OK, audit_id=cursor.lastrowid, remaining=None if remaining is None else remaining - charge.n_inputs
        )

    # -- reading the log --------------------------------------------------------------

    def audit(self, key_name: str | None = None) -> list[AuditRow]:
        """The audit log, oldest first, optionally of one key."""
        query = "SELECT id, key_name, at, n_inputs, digest, policy, alerts FROM audit"
        rows = (
            self._connection().execute(query + " WHERE key_name = ? ORDER BY id", (key_name,))
            if key_name is not None
            else self._connection().execute(query + " ORDER BY id")
        )
        return [AuditRow(*row) for row in rows]

    def alerts(self) -> list[tuple[str, float, str, str]]:
        """Every detector alert: ``(key_name, at, message, action)``, oldest first."""
        return list(self._connection().execute("SELECT key_name, at, message, action FROM alerts ORDER BY id"))
