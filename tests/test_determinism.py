"""Same seed, same result: bit for bit across runs and processes; the deterministic mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import bastion
from bastion.exceptions import InputTypeError, ValidationError

TRAIN = """
import hashlib, numpy as np, torch
import bastion
from bastion.models import fit, zoo
data = bastion.load("digits", seed=0)
module = fit(zoo.mlp(data.input_shape, data.n_classes, hidden=(16,), seed=0), data.x_train[:300],
             data.y_train[:300], epochs=2, seed=0, progress=False)
print(hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in module.parameters())).hexdigest())
"""


def weights_digest() -> str:
    namespace: dict = {}
    output = []
    namespace["print"] = output.append
    exec(TRAIN, namespace)
    return output[0]


@pytest.fixture()
def deterministic():
    threads = torch.get_num_threads()
    bastion.set_deterministic(True)
    yield
    bastion.set_deterministic(False)
    torch.set_num_threads(threads)


def test_training_twice_with_the_same_seed_gives_the_same_bits():
    assert weights_digest() == weights_digest()


def test_another_process_gives_the_same_bits():
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "OMP_NUM_THREADS": "1"}
    other = subprocess.run([sys.executable, "-c", TRAIN], env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == weights_digest()


def test_deterministic_mode_switches_torch_and_threads_and_back(deterministic):
    assert bastion.is_deterministic() and torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == 1
    bastion.set_deterministic(False)
    assert not bastion.is_deterministic() and not torch.are_deterministic_algorithms_enabled()


def test_attacks_run_in_deterministic_mode(deterministic, digits, digits_mlp):
    from bastion.attacks import PGD, HopSkipJump

    x, y = digits.x_test[:4], digits.y_test[:4]
    first = PGD(0.1, steps=3).generate(digits_mlp, x, y)
    np.testing.assert_array_equal(first, PGD(0.1, steps=3).generate(digits_mlp, x, y))
    assert HopSkipJump(max_queries=50).generate(digits_mlp, x, y).shape == x.shape


@pytest.mark.parametrize(("threads", "error"), [(0, ValidationError), (1.5, InputTypeError)])
def test_bad_thread_counts_are_refused(threads, error):
    with pytest.raises(error, match="`threads`"):
        bastion.set_deterministic(True, threads=threads)
