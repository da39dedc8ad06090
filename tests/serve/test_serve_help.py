"""`bastion serve --help` says what `--workers` does to PRADA."""

from __future__ import annotations

from typer.testing import CliRunner

from bastion.cli import app


def test_the_workers_option_says_each_worker_keeps_its_own_prada_state():
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "own PRADA state" in " ".join(result.output.replace("│", " ").split())
