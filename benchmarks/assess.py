"""``bastion assess`` benchmark: wall time and peak memory of the default and quick runs, local vs Ray.

Each run is the real command line (``bastion assess``) in a subprocess with a fresh cell cache,
so every cell runs; the default model is trained once beforehand (its training time is
reported on its own). Peak memory is the largest total resident memory of the run's process
tree (the command, its worker processes, and for Ray its raylet and workers), sampled every
0.2 s from ``/proc`` (Linux).

Run ``python -m benchmarks.assess`` (about ten minutes on two idle cores; ``--quick-only``
skips the default runs); it rewrites the ``assess`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.report import machine, write_section

# The project's targets for wall time on two idle cores (printed, not written to the docs).
QUICK_TARGET_S = 60
DEFAULT_TARGET_S = 180


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry)] = int(fields.get("PPid", "0").strip() or 0)
        rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid and child not in tree]
        tree.update(children)
        frontier += children
    return sum(rss.get(pid, 0) for pid in tree)


def run(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``bastion assess ARGS``; return its wall time (s) and peak tree memory (MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", "from bastion.cli import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_bytes(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"bastion assess {' '.join(args)} exited {process.returncode}:\n{output.decode()[-3000:]}")
    return {"seconds": seconds, "peak_mib": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick-only", action="store_true", help="skip the default (full) runs")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray runs")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bastion-bench-assess-"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Train the default model once (not part of the timed runs); every run reads it from here.
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"from bastion.assess.default_model import default_model; default_model({str(work)!r})"],
        env=env,
        check=True,
    )
    model_seconds = time.perf_counter() - started
    load = os.getloadavg()[0]

    plans = [("quick", "local", ["--quick"])]
    if not options.no_ray:
        plans.append(("quick", "ray", ["--quick", "--backend", "ray"]))
    if not options.quick_only:
        plans.append(("default", "local", []))
        if not options.no_ray:
            plans.append(("default", "ray", ["--backend", "ray"]))
    rows, results, figures = [], {}, {}
    for preset, backend, extra in plans:
        out = work / f"{preset}-{backend}"
        measured = run(["assess", *extra, "--cache", str(work), "--no-cache", "--out", str(out), "--no-progress"], env)
        results[f"{preset}-{backend}"] = (out / "results.json").read_text()
        cells = json.loads((out / "timings.json").read_text())["cells"]
        slowest = max(cells, key=lambda c: cells[c].get("seconds", 0.0))
        cpu = sum(c.get("cpu_seconds", 0.0) for c in cells.values())
        target = QUICK_TARGET_S if preset == "quick" else DEFAULT_TARGET_S
        figures[preset, backend] = (cpu, measured["peak_mib"])
        rows.append(
            f"| {preset} | {backend} | {measured['seconds']:.0f} | {cpu:.0f} | {cpu / 2:.0f} | "
            f"{measured['peak_mib']:.0f} | `{slowest}` ({cells[slowest]['seconds']:.0f} s) |"
        )
        print(rows[-1], f"target {target} s", flush=True)
    same = {
        preset: results[f"{preset}-local"] == results[f"{preset}-ray"]
        for preset in ("quick", "default")
        if f"{preset}-ray" in results and f"{preset}-local" in results
    }
    agreement = ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items()) or "not run"
    costs = ", ".join(
        f"a {preset} run about {figures[preset, 'local'][0] / 2:.0f} s"
        for preset in ("quick", "default")
        if (preset, "local") in figures
    )
    extra = [figures[p, "ray"][1] - figures[p, "local"][1] for p in ("quick", "default") if (p, "ray") in figures]
    ray = f", and Ray costs about {max(extra) / 1024:.1f} GiB more memory for the same cells" if extra else ""
    markdown = f"""## `bastion assess`: default and quick runs, local vs Ray

What: wall time, CPU time and peak memory (resident memory of the whole process tree: the command,
its worker processes, Ray's raylet and workers) of `bastion assess` on bastion's default model (a
`small_cnn` on digits) with every cell run (`--no-cache`), on the local backend (2 processes) and on
a local Ray instance (2 CPUs). Peer: none (no other toolkit runs this matrix in one command); Ray is
compared with the local backend. Each cell runs on one thread, so the cells' CPU time over two
cores is what a run costs on an idle two-core machine; the default model's one-off training
({model_seconds:.0f} s) is not included.

Command: `python -m benchmarks.assess`. Machine: {machine()}; 1-minute load average {load:.1f} on
{os.cpu_count()} cores at the start (wall times above the CPU / 2 column mean other jobs shared the
machine).

| preset | backend | wall (s) | cells CPU (s) | CPU / 2 (s) | peak memory (MiB) | slowest cell (wall) |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

Same `results.json` on Ray as on the local backend: {agreement}.

On two idle cores {costs}{ray}.
"""
    write_section("assess", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
