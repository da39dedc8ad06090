"""How long ``bastion --help`` and ``bastion --version`` take to appear, against the time of
importing every command module (what ``--help`` cost before the commands loaded lazily).

Each figure is the median of ``--repeats`` fresh interpreters (wall-clock and CPU time of the
child process). On a shared machine the wall-clock time includes waiting for a core; the CPU
time is the steadier figure.

Run: ``python -m benchmarks.cli_startup`` (a few seconds).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "bastion --help": "import sys; sys.argv = ['bastion', '--help']\nfrom bastion.cli import main\nmain()",
    "bastion --version": "import sys; sys.argv = ['bastion', '--version']\nfrom bastion.cli import main\nmain()",
    "import every command module": "from bastion.cli import load_commands\nload_commands()",
}


def measure(code: str, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of running ``code`` in a fresh interpreter."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=False, env=os.environ)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| command | wall s (median) | CPU s (median) |")
    print("|---|---|---|")
    for name, code in CASES.items():
        wall, cpu = measure(code, args.repeats)
        print(f"| `{name}` | {wall:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
