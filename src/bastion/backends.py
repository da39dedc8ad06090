"""Execution backends: run independent jobs (PATE teachers, threat-matrix cells, sweeps).

One small interface, :class:`Backend`, with ``map(fn, jobs) -> results in job order``:

- :class:`SerialBackend`: in this process, one job after the other (debugging, tiny runs);
- :class:`LocalBackend`: a pool of processes on this machine (the default);
- :class:`RayBackend`: an existing Ray cluster (``ray`` is an optional extra, imported lazily).

A job carries its own seed (see :func:`spawn_seeds`), so the results do not depend on the
backend, the number of workers or the order in which jobs finish: same seeds, same results.

Jobs for process and cluster backends travel by pickle between bastion's own processes, so
``fn`` must be a top-level function (no lambda, no closure) and each job a picklable value
(arrays, dataclasses, fitted estimators). This is in-process messaging of objects bastion
made itself; bastion never unpickles files.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from bastion.exceptions import BackendUnavailableError, InputTypeError
from bastion.validation import check_choice, check_scalar, check_seed

logger = logging.getLogger(__name__)

BACKENDS = ("local", "serial", "ray")


@runtime_checkable
class Backend(Protocol):
    """Runs ``fn`` over independent jobs and returns the results in job order."""

    def map(
        self,
        fn: Callable[[Any], Any],
        jobs: Iterable[Any],
        *,
        progress: bool = False,
        description: str = "jobs",
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """``[fn(job) for job in jobs]``, possibly in parallel; results in job order.

        ``on_result(index, result)``, when given, is called in this process as each job
        finishes (in completion order), e.g. to save it or to move a progress display.
        """


def spawn_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent job seeds derived from ``seed`` (numpy ``SeedSequence.spawn``).

    Child ``i`` depends only on ``seed`` and ``i``: adding jobs never changes the seeds of
    the first ones, and every backend hands job ``i`` the same seed.
    """
    seed = check_seed(seed)
    n = check_scalar(n, "n", kind=int, low=0)
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def _check_map_args(fn: Any, jobs: Any) -> list[Any]:
    """Check ``map``'s arguments: a callable and an iterable of jobs; return the jobs as a list."""
    if not callable(fn):
        raise InputTypeError(f"`fn` must be a callable fn(job) -> result, got {type(fn).__name__}")
    if jobs is None or isinstance(jobs, (str, bytes)) or not isinstance(jobs, Iterable):
        raise InputTypeError(f"`jobs` must be an iterable of jobs (a list, a generator), got {type(jobs).__name__}")
    return list(jobs)


class SerialBackend:
    """Runs the jobs one after the other in this process."""

    n_workers = 1

    def map(
        self,
        fn: Callable[[Any], Any],
        jobs: Iterable[Any],
        *,
        progress: bool = False,
        description: str = "jobs",
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """``[fn(job) for job in jobs]`` with an optional progress bar (see :meth:`Backend.map`)."""
        jobs = _check_map_args(fn, jobs)
        results = []
        for index, job in enumerate(tqdm(jobs, desc=description, disable=not progress, leave=False)):
            results.append(fn(job))
            if on_result is not None:
                on_result(index, results[-1])
        return results

    def __repr__(self) -> str:
        return "SerialBackend()"


def _init_worker() -> None:
    # Each worker is one of n_workers processes: one math thread each avoids oversubscribing
    # the cores (torch and BLAS otherwise start one thread per core in every process).
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    # BLAS pools already loaded (forked workers inherit them) ignore the variable above.
    threadpool_limits(1)


def _check_picklable(fn: Callable[[Any], Any], jobs: Sequence[Any], backend: str) -> None:
    try:
        pickle.dumps(fn)
        if jobs:
            pickle.dumps(jobs[0])
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise InputTypeError(
            f"the {backend} backend sends `fn` and each job to other processes, so they must be "
            f"picklable (a top-level function, no lambda or closure): {error}; use backend='serial' "
            "to run in this process"
        ) from error


class LocalBackend:
    """Runs the jobs in a pool of worker processes on this machine.

    Workers run one math thread each (as torch's DataLoader workers do), so ``n_workers``
    processes use ``n_workers`` cores.

    Args:
        n_workers: number of processes; ``None`` uses every CPU (``os.cpu_count()``).
        start_method: how workers start: ``"fork"`` (Linux default: workers inherit the
            imported modules, so they start in milliseconds), ``"spawn"`` (default elsewhere:
            a fresh interpreter per worker, which re-imports bastion and torch, seconds each)
            or ``"forkserver"``.

    Raises:
        ValidationError: ``n_workers < 1`` or a start method this platform lacks.
    """

    def __init__(self, n_workers: int | None = None, *, start_method: str | None = None) -> None:
        if n_workers is None:
            n_workers = os.cpu_count() or 1
        self.n_workers = check_scalar(n_workers, "n_workers", kind=int, low=1)
        if start_method is None:
            start_method = "fork" if sys.platform.startswith("linux") else "spawn"
        self.start_method = check_choice(start_method, "start_method", multiprocessing.get_all_start_methods())

    def map(
        self,
        fn: Callable[[Any], Any],
        jobs: Iterable[Any],
        *,
        progress: bool = False,
        description: str = "jobs",
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """``[fn(job) for job in jobs]`` over the process pool; results in job order.

        ``on_result(index, result)`` is called here as each job finishes (see :meth:`Backend.map`).

        Raises:
            InputTypeError: ``fn`` or the jobs cannot be sent to another process.
        """
        jobs = _check_map_args(fn, jobs)
        if not jobs:
            return []
        _check_picklable(fn, jobs, "local")
        workers = min(self.n_workers, len(jobs))
        logger.debug("running %d jobs on %d processes", len(jobs), workers)
        results: list[Any] = [None] * len(jobs)
        context = multiprocessing.get_context(self.start_method)
        with (
            ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool,
            tqdm(total=len(jobs), desc=description, disable=not progress, leave=False) as bar,
        ):
            futures = {pool.submit(fn, job): index for index, job in enumerate(jobs)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(1)
                if on_result is not None:
                    on_result(futures[future], results[futures[future]])
        return results

    def __repr__(self) -> str:
        return f"LocalBackend(n_workers={self.n_workers}, start_method={self.start_method!r})"


class RayBackend:
    """Runs the jobs as tasks on a Ray cluster (``pip install ray``; not a bastion dependency).

    Args:
        address: the cluster to join (``"auto"``, ``"ray://host:10001"``); ``None`` starts a
            local Ray instance.

    Raises:
        BackendUnavailableError: ``ray`` is not installed.
    """

    def __init__(self, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as error:
            raise BackendUnavailableError(
                "the 'ray' backend needs the ray package, which is not installed; install it with "
                "`pip install ray` or use backend='local'"
            ) from error
        self._ray = ray
        self.address = address
        resources = ray.cluster_resources() if ray.is_initialized() else {}
        self.n_workers = int(resources.get("CPU", 1))

    def map(
        self,
        fn: Callable[[Any], Any],
        jobs: Iterable[Any],
        *,
        progress: bool = False,
        description: str = "jobs",
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """``[fn(job) for job in jobs]`` as Ray tasks; results in job order (see :meth:`Backend.map`)."""
        jobs = _check_map_args(fn, jobs)
        if not jobs:
            return []
        ray = self._ray
        if not ray.is_initialized():
            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
        self.n_workers = int(ray.cluster_resources().get("CPU", 1))
        remote = ray.remote(fn)
        pending = [remote.remote(job) for job in jobs]
        index = {ref: i for i, ref in enumerate(pending)}
        results: list[Any] = [None] * len(jobs)
        with tqdm(total=len(jobs), desc=description, disable=not progress, leave=False) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    results[index[ref]] = ray.get(ref)
                    bar.update(1)
                    if on_result is not None:
                        on_result(index[ref], results[index[ref]])
        return results

    def __repr__(self) -> str:
        return f"RayBackend(address={self.address!r})"


def get_backend(backend: str | Backend = "local", *, n_workers: int | None = None) -> Backend:
    """The backend named ``backend`` (``"local"``, ``"serial"``, ``"ray"``), or ``backend`` itself.

    Args:
        backend: a name or an object with ``map(fn, jobs, *, progress, description)``.
        n_workers: processes of the local backend (``None``: every CPU).

    Raises:
        ValidationError: unknown name.
        InputTypeError: neither a name nor a backend object.
        BackendUnavailableError: ``"ray"`` without ray installed.
    """
    if isinstance(backend, str):
        check_choice(backend, "backend", BACKENDS)
        if backend == "serial":
            return SerialBackend()
        if backend == "ray":
            return RayBackend()
        return LocalBackend(n_workers)
    if isinstance(backend, Backend):
        return backend
    raise InputTypeError(
        f"`backend` must be one of {', '.join(repr(b) for b in BACKENDS)} or an object with a "
        f"map(fn, jobs, *, progress, description) method, got {type(backend).__name__}"
    )


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailableError",
    "LocalBackend",
    "RayBackend",
    "SerialBackend",
    "get_backend",
    "spawn_seeds",
]
