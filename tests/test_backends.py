"""Execution backends: results in job order, identical across backends, clear errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bastion.backends import (
    Backend,
    BackendUnavailableError,
    LocalBackend,
    SerialBackend,
    get_backend,
    spawn_seeds,
)
from bastion.exceptions import InputTypeError, ValidationError


def seeded_draw(job: tuple[int, int]) -> tuple[int, float]:
    """A job whose result depends only on its own index and seed."""
    index, seed = job
    return index, float(np.random.default_rng(seed).normal())


def test_spawn_seeds_is_deterministic_and_distinct():
    seeds = spawn_seeds(7, 20)
    assert seeds == spawn_seeds(7, 20)
    assert len(set(seeds)) == 20
    assert seeds != spawn_seeds(8, 20)


def test_spawn_seeds_of_a_prefix_do_not_change_when_jobs_are_added():
    assert spawn_seeds(3, 5) == spawn_seeds(3, 9)[:5]


def test_serial_backend_returns_results_in_job_order():
    jobs = list(zip(range(6), spawn_seeds(0, 6)))
    results = SerialBackend().map(seeded_draw, jobs)
    assert [index for index, _ in results] == list(range(6))


def test_local_backend_gives_the_same_results_as_serial():
    jobs = list(zip(range(5), spawn_seeds(0, 5)))
    assert LocalBackend(n_workers=2).map(seeded_draw, jobs) == SerialBackend().map(seeded_draw, jobs)


def test_local_backend_refuses_a_lambda_with_a_clear_error():
    with pytest.raises(InputTypeError, match="picklable"):
        LocalBackend(n_workers=2).map(lambda job: job, [1, 2])


def test_local_backend_of_no_jobs_is_empty():
    assert LocalBackend(n_workers=2).map(seeded_draw, []) == []


def test_local_backend_refuses_zero_workers():
    with pytest.raises(ValidationError, match="n_workers"):
        LocalBackend(n_workers=0)


def test_get_backend_builds_backends_by_name():
    assert isinstance(get_backend("serial"), SerialBackend)
    local = get_backend("local", n_workers=3)
    assert isinstance(local, LocalBackend) and local.n_workers == 3


def test_get_backend_passes_a_backend_object_through():
    backend = SerialBackend()
    assert get_backend(backend) is backend
    assert isinstance(backend, Backend)


class InlineBackend:
    """A user's own backend: anything with map(fn, jobs, *, progress, description)."""

    def map(self, fn, jobs, *, progress=False, description="jobs"):
        return [fn(job) for job in jobs]


def test_get_backend_accepts_any_object_with_map():
    backend = InlineBackend()
    assert get_backend(backend) is backend


def test_get_backend_refuses_an_unknown_name():
    with pytest.raises(ValidationError, match="`backend` must be one of"):
        get_backend("threads")


def test_get_backend_refuses_an_object_without_map():
    with pytest.raises(InputTypeError, match="backend"):
        get_backend(42)


def test_ray_backend_without_ray_installed_raises_a_clear_error(monkeypatch):
    # A None entry in sys.modules makes `import ray` fail as if ray were not installed.
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(BackendUnavailableError, match="pip install ray"):
        get_backend("ray")


@pytest.mark.parametrize("backend", [SerialBackend(), LocalBackend(n_workers=1)])
def test_map_refuses_a_non_callable_fn_by_name(backend):
    with pytest.raises(InputTypeError, match="`fn` must be a callable"):
        backend.map(3, [1, 2])


def test_map_refuses_jobs_that_are_not_iterable():
    with pytest.raises(InputTypeError, match="`jobs` must be an iterable of jobs"):
        SerialBackend().map(abs, None)
