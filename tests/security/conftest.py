"""The security harness: hostile inputs run in a subprocess under a memory limit and a timeout.

A probe is a few lines of Python run by :func:`run_probes` in a fresh interpreter whose
address space is capped (``resource.setrlimit(RLIMIT_AS)``) and which is killed after a
timeout. The test process builds the hostile files; the subprocess only opens them. Each
probe's outcome says whether it ended with a ``BastionError`` (what every hostile input must
produce), another exception (a failure of bastion: a raw exception or a ``MemoryError`` from
the cap), or no error, and how long it took. Probes that cannot blow up share one
subprocess; a probe that could hang or allocate runs alone (``isolate=True``), so one bad
probe cannot hide the others' outcome.

Every probe also gets ``MARKER``, a path a malicious payload would create (a pickle that
runs code, a file read through ONNX external data): the harness fails if it ever exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src"
# bastion's own default per-buffer limit is 2 GiB; the cap leaves room for the interpreter
# and torch (about 0.9 GiB of address space) but not for a buffer of the limit's size.
MEMORY_LIMIT_BYTES = 3 * 2**30
# A probe that has not finished after this long hangs.
PROBE_TIMEOUT_SECONDS = 30

_RUNNER = r"""
import json, resource, signal, sys, time, traceback
from pathlib import Path

limit, results_path, marker = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
probes = json.loads(sys.stdin.read())

import bastion  # noqa: E402  (imported once, under the cap)
from bastion.exceptions import BastionError  # noqa: E402

class ProbeTimeout(BaseException):
    pass

def on_alarm(signum, frame):
    raise ProbeTimeout("probe timed out")

def cli(*args):
    # Run the bastion command line in this process: [exit code, stderr].
    import contextlib, io
    from bastion.cli import main
    err, out = io.StringIO(), io.StringIO()
    sys.argv = ["bastion", *[str(arg) for arg in args]]
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            main()
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
    return [code, err.getvalue()]

signal.signal(signal.SIGALRM, on_alarm)
for name, (source, timeout) in probes.items():
    start = time.perf_counter()
    namespace = {"MARKER": marker, "__name__": "probe", "bastion": bastion, "cli": cli}
    signal.alarm(timeout)
    try:
        exec(compile(source, name, "exec"), namespace)
        value = namespace.get("result")
        outcome = {"kind": "ok", "type": None, "message": repr(value)[:500]}
        if isinstance(value, list):
            outcome["value"] = value
    except BastionError as error:
        outcome = {"kind": "bastion", "type": type(error).__name__, "message": str(error)}
    except BaseException as error:
        outcome = {"kind": "raw", "type": type(error).__name__, "message": traceback.format_exc()[-3000:]}
    finally:
        signal.alarm(0)
    outcome["seconds"] = time.perf_counter() - start
    outcome["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(results_path, "a") as handle:
        handle.write(json.dumps({name: outcome}) + "\n")
"""


@dataclass(frozen=True)
class Outcome:
    """How one probe ended."""

    kind: str  # "bastion", "raw", "ok", or "killed" (the subprocess died or hung)
    type: str | None
    message: str
    seconds: float
    max_rss_mib: float
    value: list | None = None

    def refused(self, error: str | None = None, match: str | None = None) -> bool:
        """Whether the probe ended with a BastionError (of class ``error``, containing ``match``)."""
        return (
            self.kind == "bastion"
            and (error is None or self.type == error)
            and (match is None or match.lower() in self.message.lower())
        )


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SOURCE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TQDM_DISABLE="1")
    env.pop("BASTION_MAX_BYTES", None)
    return env


def run_probes(
    probes: dict[str, str], folder: Path, *, timeout: int = PROBE_TIMEOUT_SECONDS, memory: int = MEMORY_LIMIT_BYTES
) -> dict[str, Outcome]:
    """Run ``probes`` (name to source) in one capped subprocess inside ``folder``.

    A probe missing from the results (the interpreter was killed, or hung in native code
    past the timeout) comes back as kind ``"killed"``; so do the probes after it.
    """
    results = folder / "probe-results.jsonl"
    results.unlink(missing_ok=True)
    marker = folder / "MARKER"
    payload = json.dumps({name: (source, timeout) for name, source in probes.items()})
    command = [sys.executable, "-c", _RUNNER, str(memory), str(results), str(marker)]
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            command,
            input=payload,
            text=True,
            cwd=folder,
            env=_environment(),
            capture_output=True,
            timeout=timeout * len(probes) + 30,
        )
    found: dict[str, Outcome] = {}
    if results.exists():
        for line in results.read_text().splitlines():
            for name, fields in json.loads(line).items():
                found[name] = Outcome(**fields)
    assert not marker.exists(), f"a payload created {marker}: {marker.read_text()[:200]!r}"
    killed = Outcome("killed", None, "the probe's interpreter died or hung", float("nan"), float("nan"))
    return {name: found.get(name, killed) for name in probes}


def run_cli(args: list[str], folder: Path, *, timeout: int = 60) -> subprocess.CompletedProcess:
    """Run the ``bastion`` command line in a capped subprocess inside ``folder``."""
    limit = MEMORY_LIMIT_BYTES
    command = [
        sys.executable,
        "-c",
        f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit})); "
        "sys.argv[0] = 'bastion'; from bastion.cli import main; main()",
        *[str(arg) for arg in args],
    ]
    result = subprocess.run(command, cwd=folder, env=_environment(), capture_output=True, text=True, timeout=timeout)
    assert not (folder / "MARKER").exists(), "a payload created the marker file"
    return result


def assert_one_line_error(result: subprocess.CompletedProcess | Outcome, match: str | None = None) -> None:
    """The CLI's answer to bad input: exit code 2 and one ``error:`` line naming the problem.

    ``result`` is a finished ``bastion`` process, or the outcome of a probe ``result = cli(...)``.
    """
    if isinstance(result, Outcome):
        assert result.kind == "ok" and result.value is not None, (result.kind, result.type, result.message)
        code, stderr = result.value
    else:
        code, stderr = result.returncode, result.stderr
    assert code == 2, (code, stderr[-3000:])
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr[-3000:]
    if match is not None:
        assert match.lower() in lines[0].lower(), lines[0]


@pytest.fixture()
def sandbox(tmp_path) -> Path:
    """A fresh folder for hostile files and the probes that open them."""
    return tmp_path
