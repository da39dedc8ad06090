"""One quick assessment through the CLI, shared by the report, schema and gating tests."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bastion.cli import app


def invoke(*args: str):
    """Run the bastion CLI in-process; stdout and stderr both land in ``result.output``."""
    return CliRunner().invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="session")
def assess_cache(tmp_path_factory):
    """The cache folder of the shared run: the default model and the finished cells."""
    return tmp_path_factory.mktemp("assess-cache")


@pytest.fixture(scope="session")
def quick_report(assess_cache, tmp_path_factory):
    """``bastion assess --quick`` on the local backend (2 processes): the report folder."""
    out = tmp_path_factory.mktemp("assess") / "bastion-report"
    result = invoke("assess", "--quick", "--workers", "2", "--cache", assess_cache, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def quick_results(quick_report):
    """The shared run's results.json."""
    return json.loads((quick_report / "results.json").read_text())
