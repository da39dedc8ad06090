"""The Ray backend gives the same results.json as the local one for the same seed."""

from __future__ import annotations

import pytest

from .conftest import invoke

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture()
def local_ray():
    """A local Ray instance with 2 CPUs for this test only."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_quick_on_ray_gives_the_same_results_json_as_local(quick_report, assess_cache, local_ray, tmp_path):
    # --no-cache: every cell runs again, as a Ray task (only the cached default model is reused).
    out = tmp_path / "report"
    result = invoke(
        "assess", "--quick", "--backend", "ray", "--cache", assess_cache, "--no-cache", "--out", out, "--no-progress"
    )
    assert result.exit_code == 0, result.output
    timings = (out / "timings.json").read_text()
    assert '"backend": "RayBackend"' in timings and '"cached": true' not in timings
    assert (out / "results.json").read_text() == (quick_report / "results.json").read_text()
