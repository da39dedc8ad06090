"""TracedInference and TorchModel(traced_inference=): same answers, only where safe, rebuilt when weights change."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from bastion.attacks.evasion import PGD, SquareAttack
from bastion.exceptions import ValidationError
from bastion.models import TorchModel, zoo

SHAPE = (3, 6, 6)


def cnn() -> nn.Module:
    return zoo.small_cnn(SHAPE, 4, channels=(4, 8), hidden=8, seed=0)


class BranchesOnValues(nn.Module):
    """Python control flow on a tensor's value: a trace would freeze one branch."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3 * 6 * 6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.head(x.flatten(1))
        return logits if x.mean() > 0.5 else -logits


def inputs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, *SHAPE)).astype(np.float32)


def counting_graph(model: TorchModel) -> list[int]:
    """Wrap the trace's graph so that each batch it answers is counted."""
    calls = [0]
    graph = model._traced.graph()
    assert graph is not None

    def counted(x):
        calls[0] += 1
        return graph(x)

    model._traced._graph = counted
    return calls


def test_answers_like_the_module_without_gradients():
    module = cnn()
    model = TorchModel(module, input_shape=SHAPE, n_classes=4)
    x = inputs(7)
    calls = counting_graph(model)

    logits = model.logits(x)

    assert model.traced_inference and calls[0] == 1
    with torch.no_grad():
        np.testing.assert_allclose(logits, module(torch.as_tensor(x)).numpy(), atol=1e-5)


def test_gradient_passes_call_the_module():
    model = TorchModel(cnn(), input_shape=SHAPE, n_classes=4)
    calls = counting_graph(model)
    x = inputs(4)

    gradient = model.loss_gradient(x, model.predict(x))

    assert calls[0] == 1  # the predict, not the gradient pass
    assert np.abs(gradient).sum() > 0


def test_an_in_place_change_of_the_weights_rebuilds_the_trace():
    module = cnn()
    model = TorchModel(module, input_shape=SHAPE, n_classes=4)
    x = inputs(4)
    before = model.logits(x)

    with torch.no_grad():
        module[0].weight.mul_(-2.0)

    after = model.logits(x)
    with torch.no_grad():
        expected = module(torch.as_tensor(x)).numpy()
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, expected, atol=1e-5)


def test_a_replaced_layer_is_seen():
    module = cnn()
    model = TorchModel(module, input_shape=SHAPE, n_classes=4)
    x = inputs(4)
    model.logits(x)

    module[-1] = nn.Linear(module[-1].in_features, 4)

    with torch.no_grad():
        expected = module(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(model.logits(x), expected, atol=1e-5)


def test_forward_hooks_run_because_the_module_answers_while_they_are_set():
    module = cnn()
    model = TorchModel(module, input_shape=SHAPE, n_classes=4)
    calls = counting_graph(model)
    seen = []
    handle = module[0].register_forward_hook(lambda *_: seen.append(1))

    model.predict(inputs(3))
    handle.remove()
    model.predict(inputs(3))

    assert len(seen) == 1
    assert calls[0] == 1


def test_control_flow_on_tensor_values_keeps_the_module():
    model = TorchModel(BranchesOnValues(), input_shape=SHAPE, n_classes=4)
    dark, bright = inputs(3) * 0.2, inputs(3) * 0.2 + 0.8

    assert model._traced.graph() is None
    with torch.no_grad():
        for x in (dark, bright):
            np.testing.assert_allclose(model.logits(x), model.module(torch.as_tensor(x)).numpy(), atol=1e-6)


def test_true_is_refused_for_a_module_that_cannot_be_traced():
    with pytest.raises(ValidationError, match="`traced_inference` must be False or None for this module"):
        TorchModel(BranchesOnValues(), input_shape=SHAPE, n_classes=4, traced_inference=True)


def test_off_for_flat_inputs_and_when_asked():
    assert not TorchModel(zoo.mlp((5,), 3, seed=0), input_shape=(5,), n_classes=3).traced_inference
    assert not TorchModel(cnn(), input_shape=SHAPE, n_classes=4, traced_inference=False).traced_inference
    assert TorchModel(zoo.mlp((5,), 3, seed=0), input_shape=(5,), n_classes=3, traced_inference=True).traced_inference


def test_attacks_find_what_they_find_on_the_module_itself():
    module = cnn()
    traced = TorchModel(module, input_shape=SHAPE, n_classes=4)
    eager = TorchModel(module, input_shape=SHAPE, n_classes=4, traced_inference=False)
    x = inputs(16)
    y = eager.predict(x)

    for attack in (SquareAttack(eps=0.1, max_queries=200, seed=0), PGD(eps=0.1, steps=10)):
        np.testing.assert_allclose(attack.generate(traced, x, y), attack.generate(eager, x, y), atol=1e-6)


def test_a_pickled_model_traces_again():
    model = TorchModel(cnn(), input_shape=SHAPE, n_classes=4)
    x = inputs(4)
    expected = model.logits(x)

    copy = pickle.loads(pickle.dumps(model))

    np.testing.assert_allclose(copy.logits(x), expected, atol=1e-6)
    assert copy._traced.graph() is not None
