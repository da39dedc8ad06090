"""Quotas are exact under concurrency: 32 clients at once, in one process and across two workers."""

from __future__ import annotations

import threading
import uuid

import httpx

from bastion.serve.sqlite import SQLiteStore

QUOTA = 150
CLIENTS = 32


def _spend_concurrently(url: str, token: str, x) -> list[int]:
    """32 clients sending single inputs until each is refused; the inputs each had answered."""
    answered = [0] * CLIENTS
    barrier = threading.Barrier(CLIENTS)

    def client(index: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as session:
            barrier.wait()
            while True:
                response = session.post("/v1/predict", json={"inputs": x[index : index + 1].tolist()})
                if response.status_code != 200:
                    assert response.status_code == 429, response.text
                    return
                answered[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answered


def test_32_concurrent_clients_never_overspend_a_quota(gateway, digits):
    name = f"shared-{uuid.uuid4().hex[:6]}"
    token = gateway.store.create_key(name, quota=QUOTA)
    answered = _spend_concurrently(gateway.url, token, digits.x_test)
    assert sum(answered) == QUOTA
    assert sum(row.n_inputs for row in gateway.store.audit(name)) == QUOTA


def test_two_workers_sharing_the_database_never_overspend_a_quota(server_factory, model_folder, tmp_path, digits):
    db = tmp_path / "serve.db"
    token = SQLiteStore(db).create_key("shared", quota=QUOTA)
    server = server_factory(model_folder, db, "--workers", "2")
    answered = _spend_concurrently(server.url, token, digits.x_test)
    assert sum(answered) == QUOTA
    store = SQLiteStore(db)
    assert sum(row.n_inputs for row in store.audit("shared")) == QUOTA == store.list_keys()[0].used
    assert "each of the 2 workers keeps its own PRADA state" in " ".join(server.log.read_text().split())
