"""Real gateways on loopback: one in-process uvicorn for the session, subprocesses on demand.

Every end-to-end test talks HTTP to a real uvicorn server on 127.0.0.1 (a free port) over a
real SQLite database; nothing is mocked. The session gateway runs uvicorn in a thread of the
test process (fast to start); tests that kill, restart or signal a server start their own
``bastion serve`` process with :func:`start_server`.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import bastion
from bastion.models import io
from bastion.serve.app import ServeSettings, build_app
from bastion.serve.local import serve_in_thread
from bastion.serve.sqlite import SQLiteStore

SRC = str(Path(bastion.__file__).resolve().parents[1])


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen | None = None, timeout_s: float = 90.0) -> None:
    """Poll ``/healthz`` until it answers 200; fail with the server's log if it dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy in {timeout_s} s")


@dataclass
class Server:
    """A ``bastion serve`` process: its URL, database, log file and process handle."""

    url: str
    db: Path
    log: Path
    process: subprocess.Popen

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        """Signal the server and wait for it to exit; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout_s)

    def stopped_gracefully(self) -> bool:
        """Whether the last exit was uvicorn's graceful shutdown.

        uvicorn re-raises the signal it caught once it has drained, so the exit status of a
        clean SIGTERM shutdown is -15; the log says whether the application shut down.
        """
        clean = self.process.returncode in (0, -signal.SIGTERM)
        return clean and "Application shutdown complete" in self.log.read_text()


def read_only_view(folder: Path, command: list[str]) -> list[str]:
    """``command`` run where ``folder`` is a read-only file system (a private bind mount)."""
    mount = f"mount --bind {shlex.quote(str(folder))} {shlex.quote(str(folder))}"
    remount = f"mount -o remount,bind,ro {shlex.quote(str(folder))}"
    return ["unshare", "-m", "sh", "-c", f"{mount} && {remount} && exec {shlex.join(command)}"]


def start_server(model: Path, db: Path, log: Path, *extra: str, read_only: bool = False) -> Server:
    """Start ``bastion serve MODEL --db DB`` on a free loopback port and wait until healthy.

    With ``read_only``, the database's folder is read-only for the server (a read-only bind
    mount when running as root, who ignores file modes; the file's mode otherwise).
    """
    port = free_port()
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", "from bastion.cli import main; main()", "serve", str(model)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--db", str(db), *extra]
    if read_only and os.geteuid() == 0:
        command = read_only_view(db.parent, command)
    elif read_only:
        db.chmod(0o444)
    with open(log, "ab") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    server = Server(f"http://127.0.0.1:{port}", db, log, process)
    try:
        wait_healthy(server.url, process)
    except Exception:
        server.stop(signal.SIGKILL)
        raise RuntimeError(f"bastion serve did not start:\n{log.read_text()}") from None
    return server


@pytest.fixture()
def server_factory(tmp_path) -> Iterator:
    """Start servers for one test; every one still running is killed after it."""
    started: list[Server] = []

    def factory(model: Path, db: Path | None = None, *extra: str, read_only: bool = False) -> Server:
        log = tmp_path / f"server{len(started)}.log"
        server = start_server(model, db or tmp_path / "serve.db", log, *extra, read_only=read_only)
        started.append(server)
        return server

    yield factory
    for server in started:
        if server.process.poll() is None:
            server.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory, digits_mlp) -> Path:
    """The session's digits MLP saved with bastion.models.io.save (what `bastion train` writes)."""
    return io.save(digits_mlp, tmp_path_factory.mktemp("served") / "model")


@dataclass
class Gateway:
    """The session gateway: its URL, store and one key per policy."""

    url: str
    store: SQLiteStore
    keys: dict[str, str]

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


@contextmanager
def thread_server(settings: ServeSettings) -> Iterator[str]:
    """Run the gateway of ``settings`` with uvicorn in a thread of this process; yield its URL."""
    with serve_in_thread(build_app(settings), startup_timeout_s=90) as url:
        wait_healthy(url)
        yield url


@pytest.fixture(scope="session")
def gateway(model_folder, tmp_path_factory) -> Iterator[Gateway]:
    """A uvicorn server in a thread of the test process, PRADA on, with keys of each policy."""
    db = tmp_path_factory.mktemp("gateway") / "serve.db"
    store = SQLiteStore(db)
    keys = {
        "full": store.create_key("full", policy="probs"),
        "label": store.create_key("label", policy="label"),
        "rounded": store.create_key("rounded", policy="round:2"),
        "fuzz": store.create_key("fuzz", policy="probs"),
    }
    with thread_server(ServeSettings(model=str(model_folder), db=str(db))) as url:
        yield Gateway(url, store, keys)


@pytest.fixture(scope="session")
def gateway_schema(gateway):
    """The session gateway's OpenAPI schema, loaded from the running server."""
    import schemathesis

    return schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")
