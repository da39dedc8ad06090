"""Run a plan of cells through an execution backend, each seeded and cached on its own.

- **Seeds.** A cell's seed is a function of the run's seed and the cell's ``seed_key`` only
  (numpy ``SeedSequence([seed, crc32(key)])``): adding, removing or reordering cells never
  changes another cell's draws, and every backend hands a cell the same seed.
- **Threads.** A cell runs with one math thread (torch and BLAS), in this process as in a
  worker, so floating-point reductions, hence results, are the same on every backend.
- **Cache.** A finished cell is written at once to ``<cache>/<model sha>/<key>.json``, the
  key hashing everything its result depends on (bastion version, model and data
  fingerprints, the cell's function, parameters and seed, and its configuration section):
  an interrupted run, started again, runs only the cells that had not finished.
- **Records.** Each cell gives a record: status (``ok``, ``skipped`` with the reason,
  ``failed`` with the error), its deterministic ``result``, and apart from it the
  ``timing`` (wall-clock seconds) that differs from run to run.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bastion.assess.config import AssessConfig
from bastion.assess.registry import CELL_FUNCTIONS, Cell, CellUnavailableError, sections
from bastion.assess.target import Target, dataset_sha256
from bastion.exceptions import BastionError

logger = logging.getLogger(__name__)

OK = "ok"
SKIPPED = "skipped"
FAILED = "failed"


def cell_seed(seed: int, key: str) -> int:
    """The seed of the cell whose ``seed_key`` is ``key`` in a run seeded with ``seed``."""
    sequence = np.random.SeedSequence([int(seed), zlib.crc32(key.encode())])
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def default_cache_dir() -> Path:
    """Where bastion caches: ``$BASTION_CACHE_DIR``, else ``$XDG_CACHE_HOME/bastion``, else ``~/.cache/bastion``."""
    if os.environ.get("BASTION_CACHE_DIR"):
        return Path(os.environ["BASTION_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bastion"


@dataclass(frozen=True, eq=False)
class CellContext:
    """What a cell function receives.

    Attributes:
        cell: the cell being run.
        seed: its seed.
        config: the whole run's configuration.
        target: the model (``model``, loaded on first use) and ``dataset``.
        timing: a dict the function may fill with extra wall-clock measurements (seconds),
            kept out of the deterministic result.
    """

    cell: Cell
    seed: int
    config: AssessConfig
    target: Target
    timing: dict[str, float]

    @property
    def model(self) -> Any:
        """The assessed model."""
        return self.target.load()

    @property
    def dataset(self) -> Any:
        """The assessed data."""
        return self.target.dataset

    @property
    def params(self) -> dict[str, Any]:
        """The cell's parameters."""
        return self.cell.params

    def section(self, name: str | None = None) -> dict[str, Any]:
        """A configuration section (default: the cell's own)."""
        return self.config.section(name or self.cell.section)


@dataclass(frozen=True, eq=False)
class CellJob:
    """One cell with everything it needs, as sent to a backend."""

    cell: Cell
    seed: int
    config: AssessConfig
    target: Target


def run_job(job: CellJob) -> dict[str, Any]:
    """Run one cell (top-level, so process and Ray backends can send it); return its record."""
    import torch
    from threadpoolctl import threadpool_limits

    sections()  # a fresh worker registers the cell functions
    cell = job.cell
    timing: dict[str, float] = {}
    context = CellContext(cell=cell, seed=job.seed, config=job.config, target=job.target, timing=timing)
    threads = torch.get_num_threads()
    started, cpu_started = time.perf_counter(), time.process_time()
    status, reason, result = OK, None, None
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            result = CELL_FUNCTIONS[cell.function](context)
    except CellUnavailableError as skipped:
        status, reason = SKIPPED, str(skipped)
    except BastionError as error:
        status, reason = FAILED, f"{type(error).__name__}: {error}"
    except Exception as error:  # a bug in a cell must not lose the other cells' results
        status, reason = FAILED, f"{type(error).__name__}: {error}"
        logger.error("cell %s failed:\n%s", cell.id, traceback.format_exc())
    finally:
        torch.set_num_threads(threads)
    timing["seconds"] = time.perf_counter() - started
    # CPU time of the cell's one thread: its wall time on an idle core, whatever the load.
    timing["cpu_seconds"] = time.process_time() - cpu_started
    return _record(cell, job.seed, status, reason, result, timing)


def _record(cell: Cell, seed: int, status: str, reason: str | None, result: Any, timing: dict[str, float]) -> dict:
    return {
        "id": cell.id,
        "section": cell.section,
        "function": cell.function,
        "title": cell.title,
        "params": cell.params,
        "seed": seed,
        "status": status,
        "reason": reason,
        "result": result,
        "timing": timing,
    }


def cache_key(cell: Cell, seed: int, config: AssessConfig, target: Target) -> str:
    """SHA-256 of everything a cell's result depends on."""
    import bastion

    payload = {
        "bastion": bastion.__version__,
        "model": target.sha256,
        "data": dataset_sha256(target.dataset),
        "cell": cell.id,
        "function": cell.function,
        "params": cell.params,
        "seed": seed,
        "samples": config.values["samples"],
        "section": config.values.get(cell.section),
        "training": config.values["training"],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class CellCache:
    """Finished cells' records as JSON files under one folder per model."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _path(self, key: str, target: Target) -> Path:
        return self.folder / target.sha256[:16] / f"{key}.json"

    def get(self, key: str, target: Target) -> dict[str, Any] | None:
        """The cached record, or ``None`` (none, or unreadable: then it is run again)."""
        if self.folder is None:
            return None
        path = self._path(key, target)
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def put(self, key: str, target: Target, record: dict[str, Any]) -> None:
        """Save a finished record (failed cells are not saved, so they run again)."""
        if self.folder is None or record["status"] == FAILED:
            return
        path = self._path(key, target)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(record, default=_jsonable))
        partial.replace(path)  # atomic: an interrupted write never leaves a corrupt entry


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


Callback = Callable[[dict[str, Any], int, int], None]


def run_plan(
    cells: list[Cell],
    *,
    config: AssessConfig,
    target: Target,
    backend: Any,
    cache: CellCache,
    on_cell: Callback | None = None,
) -> list[dict[str, Any]]:
    """Run every cell (cached ones are read back, skipped ones recorded); records in plan order.

    Args:
        cells: the plan.
        config: the run's configuration (its seed seeds every cell).
        target: the model and data.
        backend: a :class:`~bastion.backends.Backend`.
        cache: where finished cells are kept.
        on_cell: ``on_cell(record, n_done, n_total)`` after each cell (progress display).
    """
    records: list[dict[str, Any] | None] = [None] * len(cells)
    pending: list[tuple[int, str, CellJob]] = []
    done = 0
    for index, cell in enumerate(cells):
        seed = cell_seed(config.seed, cell.seed_key or cell.id)
        if cell.skip is not None:
            records[index] = _record(cell, seed, SKIPPED, cell.skip, None, {"seconds": 0.0})
        else:
            key = cache_key(cell, seed, config, target)
            cached = cache.get(key, target)
            if cached is None:
                pending.append((index, key, CellJob(cell=cell, seed=seed, config=config, target=target)))
                continue
            cached["timing"] = {**cached.get("timing", {}), "cached": True}
            records[index] = cached
        done += 1
        if on_cell is not None:
            on_cell(records[index], done, len(cells))

    def finished(position: int, record: dict[str, Any]) -> None:
        nonlocal done
        index, key, _ = pending[position]
        if records[index] is not None:
            return
        records[index] = record
        cache.put(key, target, record)
        done += 1
        if on_cell is not None:
            on_cell(record, done, len(cells))

    if pending:
        # Costly cells first, so that the longest ones do not start last.
        pending.sort(key=lambda item: -item[2].cell.cost)
        jobs = [job for _, _, job in pending]
        if "on_result" in inspect.signature(backend.map).parameters:
            backend.map(run_job, jobs, description="assess", on_result=finished)
        else:
            for position, record in enumerate(backend.map(run_job, jobs, description="assess")):
                finished(position, record)
    return [record for record in records if record is not None]


__all__ = ["CellCache", "CellContext", "CellJob", "cache_key", "cell_seed", "default_cache_dir", "run_job", "run_plan"]
