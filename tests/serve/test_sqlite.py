"""The SQLite store: keys, the transaction that debits and logs, and its refusals."""

from __future__ import annotations

import time

import pytest

from bastion.exceptions import ValidationError
from bastion.serve.sqlite import SQLiteStore
from bastion.serve.store import Charge


def _charge(name: str, n: int = 1, **kwargs) -> Charge:
    return Charge(key_name=name, n_inputs=n, digest="d", policy="probs", at=time.time(), **kwargs)


def test_the_database_is_in_wal_mode(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    assert store._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_one_group_debits_quotas_in_order_and_refuses_the_overspend(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.create_key("a", quota=5)
    outcomes = store.commit([_charge("a", 2), _charge("a", 2), _charge("a", 2), _charge("a", 1)])
    assert [o.status for o in outcomes] == ["ok", "ok", "quota_exhausted", "ok"]
    assert [o.remaining for o in outcomes] == [3, 1, 1, 0]
    assert [row.n_inputs for row in store.audit("a")] == [2, 2, 1]


def test_a_blocking_alert_revokes_the_key_and_is_recorded(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.create_key("a")
    (outcome,) = store.commit([_charge("a", alerts=("prada",), new_alert="PRADA: W=0.8", block=True)])
    assert outcome.status == "blocked"
    assert store.list_keys()[0].revoked_reason == "blocked: PRADA: W=0.8"
    assert store.alerts()[0][2:] == ("PRADA: W=0.8", "block")
    assert store.commit([_charge("a")])[0].status == "revoked"


def test_names_are_unique_and_validated(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.create_key("alice")
    with pytest.raises(ValidationError, match="taken"):
        store.create_key("alice")
    with pytest.raises(ValidationError, match="`name`"):
        store.create_key("no spaces")
    with pytest.raises(ValidationError, match="no key is named"):
        store.revoke_key("bob")


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(b"definitely not a database" * 100)
    with pytest.raises(ValidationError, match="not a usable SQLite database"):
        SQLiteStore(path)
