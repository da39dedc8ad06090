"""``bastion defend pate``: prints accuracy, answered queries and epsilon; saves the student."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import bastion
from bastion.cli import app
from bastion.models import io

runner = CliRunner()
SMALL = ["defend", "pate", "--data", "digits", "--teachers", "10", "--workers", "1", "--no-progress"]


def test_pate_command_prints_accuracy_answered_queries_and_epsilon():
    result = runner.invoke(app, [*SMALL, "--aggregator", "gnmax", "--sigma", "2", "--max-queries", "80"])
    assert result.exit_code == 0, result.output
    for field in ("student accuracy", "queries answered / asked", "80 / 80", "data-dependent", "data-independent"):
        assert field in result.output
    published = result.output.index("epsilon (published, smooth sensitivity")
    assert published < result.output.index("data-dependent, not safe to publish")


def test_pate_command_with_confident_gnmax_answers_some_queries():
    args = ["--aggregator", "confident-gnmax", "--threshold", "7", "--sigma-threshold", "3", "--sigma", "2"]
    result = runner.invoke(app, [*SMALL, *args, "--max-queries", "120"])
    assert result.exit_code == 0, result.output
    assert "ConfidentGNMax(threshold=7" in result.output and "/ 120" in result.output
    assert "epsilon, realised answers" in result.output


def test_pate_command_saves_a_student_that_loads_back(tmp_path):
    out = tmp_path / "student"
    args = ["--aggregator", "lnmax", "--gamma", "1", "--max-queries", "150", "--out", str(out)]
    result = runner.invoke(app, [*SMALL, *args])
    assert result.exit_code == 0, result.output
    student = io.load(out)
    digits = bastion.load("digits", seed=0)
    assert np.mean(student.predict(digits.x_test) == digits.y_test) > 0.5
    assert io.recorded_accuracy(out) == pytest.approx(np.mean(student.predict(digits.x_test) == digits.y_test))


def test_pate_command_refuses_an_unknown_aggregator():
    result = runner.invoke(app, [*SMALL, "--aggregator", "median"])
    assert result.exit_code == 2
    assert "`--aggregator` must be one of" in result.output


def test_pate_command_refuses_more_teachers_than_private_samples():
    result = runner.invoke(app, ["defend", "pate", "--teachers", "50", "--private", "20", "--workers", "1"])
    assert result.exit_code == 2
    assert "n_teachers" in result.output


def test_pate_command_refuses_a_non_positive_sigma():
    result = runner.invoke(app, [*SMALL, "--aggregator", "gnmax", "--sigma", "0"])
    assert result.exit_code == 2
    assert "--sigma must be a float in (0, inf)" in result.output


def test_pate_command_with_label_spreading_teachers_and_student():
    args = ["--teacher", "label-spreading", "--label-spreading", "7", "--aggregator", "gnmax", "--sigma", "2"]
    result = runner.invoke(app, [*SMALL, *args, "--max-queries", "100"])
    assert result.exit_code == 0, result.output
    accuracy = float(result.output.split("student accuracy (svc)")[1].split("│")[1].strip().rstrip("%"))
    assert accuracy > 80
