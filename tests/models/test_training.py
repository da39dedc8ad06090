"""fit(): seeded, learns, soft labels, temperature, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import fit, zoo


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    y = np.arange(120) % 3
    x = np.clip(0.3 + 0.4 * np.eye(3, 6)[y] + 0.05 * rng.standard_normal((120, 6)), 0, 1).astype(np.float32)
    return x, y


def train(x, y, **kwargs):
    options = {"epochs": 3, "seed": 0, "progress": False, "batch_size": 16, "lr": 0.01}
    options.update(kwargs)
    return fit(zoo.mlp((6,), 3, hidden=(8,), seed=0), x, y, **options)


def weights(module):
    return [p.detach().clone() for p in module.parameters()]


def test_same_seed_same_weights(blobs):
    for a, b in zip(weights(train(*blobs)), weights(train(*blobs))):
        assert torch.equal(a, b)


def test_other_seed_other_weights(blobs):
    assert not all(torch.equal(a, b) for a, b in zip(weights(train(*blobs, seed=0)), weights(train(*blobs, seed=1))))


def test_training_learns_a_separable_task(blobs):
    x, y = blobs
    module = train(x, y, epochs=15)
    with torch.no_grad():
        accuracy = (module(torch.from_numpy(x)).argmax(1).numpy() == y).mean()
    assert accuracy > 0.95


def test_returns_the_same_module_in_eval_mode(blobs):
    module = zoo.mlp((6,), 3, hidden=(8,), seed=0)
    assert fit(module, *blobs, epochs=1, progress=False) is module
    assert not module.training


def test_one_hot_soft_labels_train_like_hard_labels(blobs):
    x, y = blobs
    soft = np.eye(3, dtype=np.float32)[y]
    for a, b in zip(weights(train(x, y)), weights(train(x, soft))):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_soft_labels_pull_the_outputs_toward_their_distribution(blobs):
    x, _ = blobs
    target = np.tile(np.array([0.6, 0.3, 0.1], dtype=np.float32), (len(x), 1))
    module = train(x, target, epochs=30)
    with torch.no_grad():
        probabilities = torch.softmax(module(torch.from_numpy(x)), 1).mean(0).numpy()
    np.testing.assert_allclose(probabilities, target[0], atol=0.05)


def test_temperature_divides_the_logits_during_training(blobs):
    # Defensive distillation: training at T makes the logits about T times larger.
    x, y = blobs
    cold, hot = train(x, y, epochs=30), train(x, y, epochs=30, temperature=20.0)
    with torch.no_grad():
        assert hot(torch.from_numpy(x)).abs().mean() > 3 * cold(torch.from_numpy(x)).abs().mean()


def test_training_works_inside_a_no_grad_block(blobs):
    with torch.no_grad():
        module = train(*blobs)
    assert not all(torch.equal(a, b) for a, b in zip(weights(module), weights(zoo.mlp((6,), 3, hidden=(8,), seed=0))))


def test_training_does_not_disturb_the_global_rng(blobs):
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    train(*blobs, epochs=1)
    assert torch.equal(torch.rand(2), expected)


def test_soft_labels_that_are_not_distributions_are_refused(blobs):
    x, _ = blobs
    with pytest.raises(ValidationError, match=r"rows that sum to 1"):
        train(x, np.full((len(x), 3), 0.5, dtype=np.float32))


def test_labels_of_the_wrong_length_are_refused(blobs):
    x, y = blobs
    with pytest.raises(ValidationError, match=r"must have 120 labels"):
        train(x, y[:-1])
    with pytest.raises(ValidationError, match=r"must have 120 rows"):
        train(x, np.eye(3, dtype=np.float32)[y[:-1]])


@pytest.mark.parametrize(("name", "value"), [("epochs", 0), ("lr", 0.0), ("temperature", -1.0), ("batch_size", 0)])
def test_bad_hyperparameters_are_named(blobs, name, value):
    with pytest.raises(ValidationError, match=f"`{name}`"):
        train(*blobs, **{name: value})


def test_non_module_is_refused(blobs):
    with pytest.raises(InputTypeError, match=r"`module`"):
        fit("mlp", *blobs)


def test_labels_beyond_the_module_outputs_are_refused():
    x = np.zeros((4, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValidationError, match=r"`y` must hold labels in 0..9 for a module with 10 logits, got 12"):
        fit(zoo.mlp((1, 8, 8), 10, hidden=(4,)), x, np.array([0, 1, 2, 12]), epochs=1, progress=False)


def test_inputs_the_module_cannot_process_are_refused_naming_x():
    x = np.zeros((4, 10), dtype=np.float32)
    with pytest.raises(ValidationError, match=r"`x` gives samples of shape \(10,\)"):
        fit(zoo.mlp((1, 8, 8), 10, hidden=(4,)), x, np.zeros(4, dtype=int), epochs=1, progress=False)


def test_soft_labels_of_the_wrong_width_are_refused():
    x = np.zeros((4, 1, 8, 8), dtype=np.float32)
    y = np.full((4, 3), 1 / 3, dtype=np.float32)
    with pytest.raises(ValidationError, match="`y` soft labels must have 10 columns"):
        fit(zoo.mlp((1, 8, 8), 10, hidden=(4,)), x, y, epochs=1, progress=False)
