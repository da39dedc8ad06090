"""bastion.plots: figures are drawn without pyplot and never switch the caller's backend."""

from __future__ import annotations

import matplotlib
import pytest

from bastion.attacks.inference import membership_metrics
from bastion.exceptions import ValidationError
from bastion.plots import plot_roc

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
