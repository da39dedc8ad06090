"""Load test of the serving gateway on loopback: throughput, latency and overhead.

A ``bastion serve`` process (one worker, then two) answers single-input predictions of the
digits small_cnn (the default architecture of ``bastion train``) with everything on: key
authentication, the audit log committed before each answer (WAL, ``synchronous=FULL``,
group commit) and PRADA on every query. A small asyncio HTTP/1.1 client (keep-alive, one
connection per concurrent client, pre-encoded JSON bodies) sends ``--requests`` requests at
concurrency 1, 8 and 32 and stops. Reported: requests/s, p50 and p99 latency as the client
sees it, and the overhead of the gateway over calling the model in-process (p50 minus the
in-process median). The client and the server share the machine's cores, so the figures are
a lower bound of what the server does alone.

Run: ``python -m benchmarks.serve`` (under a minute on two idle cores). Writes the ``serve``
section of docs/benchmarks.md and prints whether one worker at concurrency 8 reaches 500
single-input predictions/s with p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch

import bastion
from bastion.models import TorchModel, fit, io, zoo
from bastion.serve.sqlite import SQLiteStore
from benchmarks.report import machine, write_section

CONCURRENCY = (1, 8, 32)
TARGET_RPS = 500
TARGET_P99_MS = 50.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(model: Path, db: Path, workers: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    src = str(Path(bastion.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", "from bastion.cli import main; main()", "serve", str(model), "--db", str(db)]
    command += ["--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the gateway did not start")


async def _client(port: int, token: str, bodies: list[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    head += "Content-Type: application/json\r\n"
    try:
        for body in bodies:
            started = time.perf_counter()
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if not status.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"the gateway answered {status!r}")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def _load(port: int, token: str, bodies: list[bytes], concurrency: int) -> tuple[float, np.ndarray]:
    latencies: list[float] = []
    shares = [bodies[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, token, share, latencies) for share in shares))
    return time.perf_counter() - started, np.asarray(latencies)


def _in_process_ms(model: TorchModel, x: np.ndarray, repeats: int = 2000) -> float:
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        model.predict_proba(x[i % len(x) : i % len(x) + 1])
        times.append(time.perf_counter() - started)
    return 1e3 * float(np.median(times))


def _server_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process and its live child processes (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        total += sum(_server_cpu_s(int(child)) for child in children.read_text().split())
    return total


def _stack() -> str:
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn with {loop} and {http}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per concurrency level")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md alone")
    args = parser.parse_args()
    torch.set_num_threads(1)
    digits = bastion.load("digits", seed=0)
    module = fit(zoo.small_cnn(digits.input_shape, digits.n_classes, seed=0), digits.x_train, digits.y_train,
                 epochs=3, seed=0, progress=False)  # fmt: skip
    model = TorchModel(module, input_shape=digits.input_shape, n_classes=digits.n_classes)
    in_process_ms = _in_process_ms(model, digits.x_test)
    x = digits.x_test
    bodies = [json.dumps({"inputs": x[i % len(x) : i % len(x) + 1].tolist()}).encode() for i in range(args.requests)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        model_path = io.save(model, Path(folder) / "model")
        for workers in (1, 2):
            db = Path(folder) / f"serve-{workers}.db"
            store = SQLiteStore(db)
            process, port = _start(model_path, db, workers)
            try:
                for concurrency in CONCURRENCY:
                    token = store.create_key(f"bench-{concurrency}")
                    asyncio.run(_load(port, token, bodies[:100], concurrency))  # warm-up
                    cpu_before = _server_cpu_s(process.pid)
                    seconds, latencies = asyncio.run(_load(port, token, bodies, concurrency))
                    cpu_ms = 1e3 * (_server_cpu_s(process.pid) - cpu_before) / len(latencies)
                    audited = sum(row.n_inputs for row in store.audit(f"bench-{concurrency}"))
                    rows.append((workers, concurrency, len(latencies), seconds, latencies, audited, cpu_ms))
                    print(
                        f"workers {workers} concurrency {concurrency:>2}: {len(latencies) / seconds:,.0f} req/s, "
                        f"p50 {1e3 * np.median(latencies):.1f} ms, p99 {1e3 * np.quantile(latencies, 0.99):.1f} ms, "
                        f"server CPU {cpu_ms:.2f} ms/request"
                    )
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    load = os.getloadavg()[0]
    at_eight = next(r for r in rows if r[0] == 1 and r[1] == 8)
    rps, p99 = at_eight[2] / at_eight[3], 1e3 * np.quantile(at_eight[4], 0.99)
    lines = [
        "## Serving gateway: throughput and latency on loopback",
        "",
        "What is measured: single-input predictions of the digits small_cnn (3 epochs; the architecture "
        "`bastion train` saves by default) through `bastion serve`, with everything on: key authentication, "
        "the audit row committed to SQLite (WAL, synchronous=FULL, group commit) before each answer, PRADA on "
        "every query, metrics. The peer is the same model called in-process (`predict_proba` of one input): "
        "the overhead column is the gateway's p50 minus that call. A minimal asyncio HTTP/1.1 client with "
        "keep-alive connections sends the JSON requests after 100 warm-up requests per level; it runs on the "
        "same cores as the server. Server CPU is the server processes' CPU time per answered request.",
        "",
        "Command: `python -m benchmarks.serve`",
        "",
        f"Machine: {machine()}, {_stack()}, load average {load:.1f} at the end of the run.",
        "",
        "| workers | concurrency | requests | requests/s | p50 ms | p99 ms | overhead over in-process (p50) | "
        "server CPU ms/request | audited inputs |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workers, concurrency, n, seconds, latencies, audited, cpu_ms in rows:
        p50, p99_ms = 1e3 * np.median(latencies), 1e3 * np.quantile(latencies, 0.99)
        lines.append(
            f"| {workers} | {concurrency} | {n:,} | {n / seconds:,.0f} | {p50:.2f} | {p99_ms:.2f} | "
            f"{p50 - in_process_ms:+.2f} ms | {cpu_ms:.2f} | {audited:,} |"
        )
    lines += [
        "",
        f"In-process `predict_proba` of one input: {in_process_ms:.3f} ms (median of 2,000 calls). The audited "
        "inputs column counts what the audit log holds per key, warm-up included: every answered request.",
        "",
        f"One worker at concurrency 8 answers {rps:,.0f} predictions/s with a p99 of {p99:.1f} ms, spending "
        f"{at_eight[6]:.2f} ms of server CPU per request against {in_process_ms:.2f} ms for the model call alone: "
        "the rest is HTTP handling, JSON, PRADA and the durable audit commit.",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    met = rps >= TARGET_RPS and p99 < TARGET_P99_MS
    verdict = "met" if met else "not met"
    print(f"target (>= {TARGET_RPS}/s, p99 < {TARGET_P99_MS:g} ms at concurrency 8, one worker): {verdict}")
    if not args.no_write:
        write_section("serve", markdown)


if __name__ == "__main__":
    main()
