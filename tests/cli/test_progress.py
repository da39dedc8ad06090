"""Progress bars: on by default on stderr, off with --no-progress and with --json."""

from __future__ import annotations

import pytest

from .conftest import invoke


def cw(model, *args):
    return invoke("attack", "evasion", "--model", model, "--attack", "cw", "--steps", "20", "--n-samples", "10", *args)


def test_progress_bar_shows_by_default(trained_folder):
    result = cw(trained_folder)
    assert result.exit_code == 0, result.output
    assert "%|" in result.output


@pytest.mark.parametrize("flag", ["--no-progress", "--json"])
def test_no_progress_and_json_turn_the_bar_off(trained_folder, tmp_path, flag):
    result = cw(trained_folder, *((flag, tmp_path / "r.json") if flag == "--json" else (flag,)))
    assert result.exit_code == 0, result.output
    assert "%|" not in result.output


def test_robustness_shows_its_bar_by_default(trained_folder):
    result = invoke(
        "evaluate",
        "robustness",
        "--model",
        trained_folder,
        "--eps",
        "0.1",
        "--version",
        "fast",
        "--n-samples",
        "5",
        "--no-diagnostics",
    )
    assert result.exit_code == 0, result.output
    assert "robustness:" in result.output and "%|" in result.output
