"""How long ``bastion --help`` and ``bastion --version`` take to appear, against the time of
importing every command module (what ``--help`` cost before the commands loaded lazily).

Each figure is the median of ``--repeats`` fresh interpreters (wall-clock and CPU time of the
child process). On a shared machine the wall-clock time includes waiting for a core; the CPU
time is the steadier figure.

Run: ``python -m benchmarks.cli_startup`` (under a minute). Writes the ``cli-startup`` section of
docs/benchmarks.md (``--no-write``: print it only).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

from benchmarks.report import machine, write_section

COMMAND = "python -m benchmarks.cli_startup"
# The project's target for ``bastion --help`` (printed, not written to the docs).
HELP_TARGET_S = 0.5

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


def markdown(figures: dict[str, tuple[float, float]], repeats: int) -> str:
    help_wall, help_cpu = figures["bastion --help"]
    _, all_cpu = figures["import every command module"]
    lines = [
        "## CLI start-up: `bastion --help` and `bastion --version`",
        "",
        "What: how long `bastion --help` and `bastion --version` take from a fresh interpreter to exit; the "
        "command modules (and torch) load only when a command runs. Peer: importing every command module, "
        "what `--help` cost before the commands loaded lazily. Data: none; each figure is the median of "
        f"{repeats} fresh interpreters, wall-clock and CPU time of the child process (on a shared machine the "
        "wall-clock time includes waiting for a core; the CPU time is the steadier figure).",
        "",
        f"Command: `{COMMAND}`. Machine: {machine()}; 1-minute load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores.",
        "",
        "| command | wall (s, median) | CPU (s, median) |",
        "| --- | ---: | ---: |",
        *(f"| `{name}` | {wall:.2f} | {cpu:.2f} |" for name, (wall, cpu) in figures.items()),
        "",
        f"`bastion --help` appears after {help_wall:.2f} s ({help_cpu:.2f} s of CPU), {all_cpu / help_cpu:.0f}x "
        "less CPU than importing every command.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave docs/benchmarks.md alone")
    args = parser.parse_args()
    figures = {name: measure(code, args.repeats) for name, code in CASES.items()}
    text = markdown(figures, args.repeats)
    print(text)
    wall, cpu = figures["bastion --help"]
    verdict = "met" if wall < HELP_TARGET_S else "not met"
    print(
        f"target: bastion --help < {HELP_TARGET_S} s wall: {verdict} ({wall:.2f} s wall, {cpu:.2f} s CPU)",
        file=sys.stderr,
    )
    if not args.no_write:
        write_section("cli-startup", text)


if __name__ == "__main__":
    main()
