"""ChannelsLastRunner and TorchModel(channels_last=): same answers, faster layout, the user's module untouched.

The models here turn traced inference off, so that forward passes without gradients run the layout too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bastion.exceptions import ValidationError
from bastion.models import TorchModel, zoo
from bastion.models.channels_last import ChannelsLastRunner

SHAPE = (3, 6, 6)


def cnn() -> nn.Module:
    return zoo.small_cnn(SHAPE, 4, channels=(4, 8), hidden=8, seed=0)


class ViewsItsWeights(nn.Module):
    """A convolution whose forward reshapes its weight with .view (fails on channels-last)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(4 * 4 * 4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.conv.weight.view(4, -1).view(4, 3, 3, 3)
        return self.head(nn.functional.conv2d(x, weight, self.conv.bias).flatten(1))


def test_answers_like_the_module_and_leaves_its_weights_contiguous():
    module = cnn()
    x = torch.rand(5, *SHAPE, generator=torch.Generator().manual_seed(0))

    model = TorchModel(module, input_shape=SHAPE, n_classes=4, traced_inference=False)

    assert model.channels_last
    assert all(parameter.is_contiguous() for parameter in module.parameters())
    with torch.no_grad():
        torch.testing.assert_close(model.logits_tensor(x), module(x), atol=1e-5, rtol=1e-5)


def test_copies_follow_an_in_place_change_of_the_weights():
    module = cnn()
    model = TorchModel(module, input_shape=SHAPE, n_classes=4, traced_inference=False)
    x = np.random.default_rng(0).uniform(size=(4, *SHAPE)).astype(np.float32)
    before = model.logits(x)

    with torch.no_grad():
        module[0].weight.mul_(-2.0)

    after = model.logits(x)
    with torch.no_grad():
        expected = module(torch.as_tensor(x)).numpy()
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, expected, atol=1e-5)


def test_the_modules_hooks_still_fire():
    module = cnn()
    model = TorchModel(module, input_shape=SHAPE, n_classes=4, traced_inference=False)
    seen = []
    module[-1].register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0].shape))

    model.logits(np.zeros((2, *SHAPE), dtype=np.float32))

    assert seen == [torch.Size([2, 8])]


def test_input_gradients_flow_and_parameters_get_none():
    module = cnn()
    model = TorchModel(module, input_shape=SHAPE, n_classes=4, traced_inference=False)
    x = torch.rand(3, *SHAPE, requires_grad=True)

    (gradient,) = torch.autograd.grad(model.logits_tensor(x).sum(), x)

    assert gradient.abs().sum() > 0
    assert all(parameter.grad is None for parameter in module.parameters())


def test_gradient_passes_through_max_pooling_copy_no_full_size_gradient_and_leave_no_hook_behind():
    from torch.profiler import ProfilerActivity, profile

    module = cnn()
    model = TorchModel(module, input_shape=SHAPE, n_classes=4, traced_inference=False)
    pool = next(layer for layer in module.modules() if isinstance(layer, nn.MaxPool2d))
    x = torch.rand(3, *SHAPE, generator=torch.Generator().manual_seed(0))
    ours, theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as trace:
        (gradient,) = torch.autograd.grad(model.logits_tensor(ours).logsumexp(dim=1).sum(), ours)
    (expected,) = torch.autograd.grad(module(theirs).logsumexp(dim=1).sum(), theirs)

    torch.testing.assert_close(gradient, expected, atol=1e-6, rtol=1e-5)
    events = trace.events()
    assert any(event.name == "aten::max_pool2d_with_indices_backward" for event in events)
    pooled_input = [3, 8, 6, 6]
    assert not [event for event in events if event.name == "aten::copy_" and pooled_input in event.input_shapes]
    assert len(pool._forward_hooks) == 0


def test_a_module_that_views_its_weights_keeps_its_layout_by_default():
    model = TorchModel(ViewsItsWeights(), input_shape=SHAPE, n_classes=4, traced_inference=False)

    assert not model.channels_last
    assert model.predict(np.zeros((1, *SHAPE), dtype=np.float32)).shape == (1,)


def test_asking_for_it_on_a_module_that_cannot_run_that_way_is_refused():
    with pytest.raises(ValidationError, match="fails or answers differently"):
        TorchModel(ViewsItsWeights(), input_shape=SHAPE, n_classes=4, channels_last=True)
    with pytest.raises(ValidationError, match="no 4-D weights"):
        TorchModel(zoo.mlp(SHAPE, 4, seed=0), input_shape=SHAPE, n_classes=4, channels_last=True)


def test_false_and_flat_inputs_call_the_module_as_given():
    assert not TorchModel(cnn(), input_shape=SHAPE, n_classes=4, channels_last=False).channels_last
    assert not TorchModel(zoo.mlp((5,), 3, seed=0), input_shape=(5,), n_classes=3).channels_last


def test_runner_survives_pickling():
    import pickle

    module = cnn()
    runner = ChannelsLastRunner(module)
    x = torch.rand(2, *SHAPE)

    copy = pickle.loads(pickle.dumps(runner))

    with torch.no_grad():
        torch.testing.assert_close(copy(x), module(x), atol=1e-5, rtol=1e-5)


def test_the_modules_own_parameters_are_back_after_a_call_even_one_that_fails():
    module = cnn()
    originals = [id(parameter) for parameter in module.parameters()]
    runner = ChannelsLastRunner(module)

    runner(torch.rand(2, *SHAPE))
    with pytest.raises(RuntimeError):
        runner(torch.rand(2, 5, 6, 6))

    assert [id(parameter) for parameter in module.parameters()] == originals
    assert all(isinstance(parameter, nn.Parameter) for parameter in module.parameters())


def test_a_replaced_parameter_is_picked_up():
    module = cnn()
    runner = ChannelsLastRunner(module)
    x = torch.rand(2, *SHAPE)
    runner(x)

    module[0].weight = nn.Parameter(torch.zeros_like(module[0].weight))

    with torch.no_grad():
        torch.testing.assert_close(runner(x), module(x), atol=1e-5, rtol=1e-5)
