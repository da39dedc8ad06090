"""bastion.plots: figures are drawn without pyplot and never switch the caller's backend."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from bastion.attacks.inference import membership_metrics
from bastion.exceptions import ValidationError
from bastion.plots import plot_curves, plot_roc, plot_sanitizer_bars

PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_roc_writes_a_png_and_leaves_the_backend_alone(tmp_path):
    backend = matplotlib.get_backend()
    result = membership_metrics([0.9, 0.8, 0.4], [0.3, 0.5, 0.1])
    path = plot_roc({"toy": result}, tmp_path / "nested" / "roc.png")
    assert path.read_bytes()[:8] == PNG
    assert matplotlib.get_backend() == backend


def test_plot_roc_refuses_no_results(tmp_path):
    with pytest.raises(ValidationError, match="at least one MembershipResult"):
        plot_roc({}, tmp_path / "roc.png")


def test_plot_sanitizer_bars_writes_a_png(tmp_path):
    path = plot_sanitizer_bars({"no defense": (0.99, 0.98), "SPECTRE": (0.0, 0.97)}, tmp_path / "bars.png")
    assert path.read_bytes()[:8] == PNG


def test_plot_sanitizer_bars_refuses_no_rows(tmp_path):
    with pytest.raises(ValidationError, match="at least one"):
        plot_sanitizer_bars({}, tmp_path / "bars.png")


def test_plot_curves_refuses_a_curve_of_the_wrong_length(tmp_path):
    with pytest.raises(ValidationError, match="has 2 values for 3 x positions"):
        plot_curves([0, 1, 2], {"random": [1.0, 0.9]}, tmp_path / "c.png", xlabel="x", ylabel="y", title="t")
    path = plot_curves([0, 1], {"random": [1.0, 0.9]}, tmp_path / "c.png", xlabel="x", ylabel="y", title="t")
    assert path.read_bytes()[:8] == PNG


def test_roc_figure_names_a_curve_hidden_under_an_identical_one():
    from bastion.plots import roc_figure

    result = membership_metrics([0.9, 0.8, 0.4], [0.3, 0.5, 0.1])
    legend = [text.get_text() for text in roc_figure({"loss": result, "confidence": result}).axes[0].get_legend().texts]
    assert "same curve as loss" in legend[1]
    assert "same curve" not in legend[0]


def test_roc_figure_names_a_curve_that_nearly_coincides_and_not_a_distinct_one():
    from bastion.plots import roc_figure

    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(1.0, 1.0, 400), rng.normal(0.0, 1.0, 400)
    loss = membership_metrics(members, nonmembers)
    # Scores nudged by a little noise: a few pairs swap, the curve is the same to the eye but not bit for bit.
    nudged = members + rng.normal(0.0, 0.01, 400)
    confidence = membership_metrics(nudged, nonmembers)
    assert confidence.roc_tpr != loss.roc_tpr
    other = membership_metrics(rng.normal(2.0, 1.0, 400), nonmembers)
    figure = roc_figure({"loss": loss, "confidence": confidence, "shadow": other})
    legend = [text.get_text() for text in figure.axes[0].get_legend().texts]
    assert "same curve as loss" in legend[1]
    assert "same curve" not in legend[2]
