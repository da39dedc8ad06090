"""Durability of the audit log and quotas: kill -9, restart, SIGTERM, read-only and full databases."""

from __future__ import annotations

import io
import signal
import threading
import time

import httpx
import numpy as np

from bastion.serve.app import ServeSettings
from bastion.serve.sqlite import SQLiteStore

from .conftest import thread_server


def _hammer(url: str, token: str, x: np.ndarray, *, stop: threading.Event, threads: int = 8) -> dict:
    """Clients sending one-input queries until ``stop``; what each got back."""
    acknowledged: list[int] = []
    statuses: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as session:
            i = index
            while not stop.is_set():
                try:
                    response = session.post("/v1/predict", json={"inputs": x[i % len(x) : i % len(x) + 1].tolist()})
                except httpx.ConnectError:
                    return
                except httpx.HTTPError as error:
                    with lock:
                        failures.append(type(error).__name__)
                    return
                with lock:
                    statuses.append(response.status_code)
                    if response.status_code == 200:
                        acknowledged.append(response.json()["audit_id"])
                i += threads

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    return {"threads": workers, "acknowledged": acknowledged, "statuses": statuses, "failures": failures}


def _join(run: dict) -> None:
    for worker in run["threads"]:
        worker.join(timeout=60)


def test_kill_9_loses_no_acknowledged_query(server_factory, model_folder, tmp_path, digits):
    db = tmp_path / "serve.db"
    token = SQLiteStore(db).create_key("client")
    server = server_factory(model_folder, db)
    stop = threading.Event()
    run = _hammer(server.url, token, digits.x_test, stop=stop)
    deadline = time.monotonic() + 30
    while len(run["acknowledged"]) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    stop.set()
    _join(run)
    logged = {row.id for row in SQLiteStore(db).audit("client")}
    assert len(run["acknowledged"]) >= 100
    assert set(run["acknowledged"]) <= logged
    assert SQLiteStore(db).list_keys()[0].used == len(logged)


def test_sigterm_drains_in_flight_requests_and_a_restart_keeps_the_quota(
    server_factory, model_folder, tmp_path, digits
):
    db = tmp_path / "serve.db"
    token = SQLiteStore(db).create_key("client", quota=3100)
    server = server_factory(model_folder, db)
    big = digits.x_test[:400].tolist()
    results: list = []

    def slow_request() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            results.append(httpx.post(f"{server.url}/v1/predict", json={"inputs": big}, headers=headers, timeout=60))
        except httpx.HTTPError as error:
            results.append(error)

    clients = [threading.Thread(target=slow_request) for _ in range(6)]
    for client in clients:
        client.start()
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and "bastion_predictions_in_flight 6.0" not in httpx.get(f"{server.url}/metrics").text
    ):
        time.sleep(0.01)  # until the server is answering all six
    server.stop(signal.SIGTERM)
    for client in clients:
        client.join(timeout=60)
    assert server.stopped_gracefully()
    assert [getattr(r, "status_code", type(r).__name__) for r in results] == [200] * 6
    logged = SQLiteStore(db).audit("client")
    assert {r.json()["audit_id"] for r in results} == {row.id for row in logged}

    server = server_factory(model_folder, db)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-npy"}
    assert httpx.get(f"{server.url}/v1/model", headers=headers).json()["remaining_quota"] == 700
    for n, status in ((701, 429), (700, 200), (1, 429)):
        buffer = io.BytesIO()
        np.save(buffer, np.repeat(digits.x_test[:1], n, axis=0))
        assert httpx.post(f"{server.url}/v1/predict", content=buffer.getvalue(), headers=headers).status_code == status
    assert SQLiteStore(db).list_keys()[0].used == 3100


def test_read_only_database_fails_closed_with_503(server_factory, model_folder, tmp_path, digits):
    db = tmp_path / "ro" / "serve.db"
    db.parent.mkdir()
    store = SQLiteStore(db)
    token = store.create_key("client", quota=100)
    store.list_keys()  # this open connection keeps the WAL files that read-only readers need
    server = server_factory(model_folder, db, read_only=True)
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{server.url}/v1/predict", json={"inputs": digits.x_test[:2].tolist()}, headers=headers)
    assert response.status_code == 503
    assert response.json()["error"] == "store_unavailable" and "retry-after" in response.headers
    assert "labels" not in response.text
    assert store.audit() == [] and store.list_keys()[0].used == 0


def test_full_database_fails_closed_with_503(model_folder, tmp_path, digits):
    db = tmp_path / "serve.db"
    token = SQLiteStore(db).create_key("client")
    settings = ServeSettings(model=str(model_folder), db=str(db), db_max_bytes=64 * 1024)
    headers = {"Authorization": f"Bearer {token}"}
    statuses = []
    with thread_server(settings) as url, httpx.Client(base_url=url, headers=headers) as client:
        # Fill the file through the audit log until SQLite reports it full.
        for i in range(5000):
            response = client.post("/v1/predict", json={"inputs": digits.x_test[i % 400 : i % 400 + 1].tolist()})
            statuses.append(response.status_code)
            if response.status_code != 200:
                break
    assert statuses[-1] == 503, statuses[-5:]
    assert response.json()["error"] == "store_unavailable"
    assert len(SQLiteStore(db).audit()) == sum(status == 200 for status in statuses)
