"""Options of every command: --deterministic and --max-bytes."""

from __future__ import annotations

import numpy as np
import torch

import bastion
from bastion.limits import limits, set_limits

from .conftest import invoke


def test_max_bytes_lowers_the_limit_that_refuses_a_dataset(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        x_train=rng.random((40, 8), dtype=np.float32),
        y_train=np.arange(40) % 2,
        x_test=rng.random((10, 8), dtype=np.float32),
        y_test=np.arange(10) % 2,
    )
    default = limits().max_bytes
    try:
        result = invoke("--max-bytes", 100, "train", "--data", tmp_path / "d.npz", "--out", tmp_path / "m")
    finally:
        set_limits(max_bytes=default)
    assert result.exit_code == 2
    assert "over bastion's limit of 100 bytes" in result.output


def test_deterministic_switches_the_mode_on_for_the_command(tmp_path):
    threads = torch.get_num_threads()
    try:
        result = invoke(
            "--deterministic",
            "train",
            "--data",
            "digits",
            "--arch",
            "mlp",
            "--epochs",
            "1",
            "--no-progress",
            "--out",
            tmp_path / "m",
        )
        assert result.exit_code == 0, result.output
        assert bastion.is_deterministic() and torch.are_deterministic_algorithms_enabled()
    finally:
        bastion.set_deterministic(False)
        torch.set_num_threads(threads)
