"""TorchModel: logits, probabilities, gradients, preprocessing, queries and validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import GRADIENTS, SCORES, TorchModel, zoo
from bastion.models.torch import module_output_width

from .conftest import SHAPE


def test_capabilities_are_white_box(tiny_model):
    assert {GRADIENTS, SCORES} <= tiny_model.capabilities


def test_every_method_counts_the_inputs_it_answers(tiny_model, tiny_x):
    tiny_model.predict(tiny_x)
    tiny_model.predict_proba(tiny_x)
    tiny_model.logits(tiny_x[:2])
    tiny_model.loss_gradient(tiny_x[:3], np.zeros(3, dtype=int))
    assert tiny_model.queries == 5 + 5 + 2 + 3
    tiny_model.reset_queries()
    assert tiny_model.queries == 0


def test_logits_tensor_counts_queries(tiny_model, tiny_x):
    tiny_model.logits_tensor(torch.from_numpy(tiny_x))
    assert tiny_model.queries == 5


def test_logits_equal_the_module_output(tiny_model, tiny_module, tiny_x):
    with torch.no_grad():
        expected = tiny_module(torch.from_numpy(tiny_x)).numpy()
    np.testing.assert_allclose(tiny_model.logits(tiny_x), expected, atol=1e-6)


def test_probabilities_are_the_softmax_of_the_logits(tiny_model, tiny_x):
    probabilities = tiny_model.predict_proba(tiny_x)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(probabilities, torch.softmax(torch.from_numpy(tiny_model.logits(tiny_x)), 1), atol=1e-6)
    np.testing.assert_array_equal(tiny_model.predict(tiny_x), probabilities.argmax(axis=1))


def test_small_batch_size_gives_the_same_logits(tiny_module, tiny_x):
    whole = TorchModel(tiny_module, input_shape=SHAPE, n_classes=3).logits(tiny_x)
    pieces = TorchModel(tiny_module, input_shape=SHAPE, n_classes=3, batch_size=2).logits(tiny_x)
    np.testing.assert_allclose(pieces, whole, atol=1e-6)


def test_scalar_preprocessing_equals_the_module_on_normalised_input(tiny_module, tiny_x):
    model = TorchModel(tiny_module, input_shape=SHAPE, n_classes=3, preprocessing=(0.5, 0.25))
    with torch.no_grad():
        expected = tiny_module((torch.from_numpy(tiny_x) - 0.5) / 0.25).numpy()
    np.testing.assert_allclose(model.logits(tiny_x), expected, atol=1e-5)


def test_per_channel_preprocessing_broadcasts_over_height_and_width(tiny_x):
    module = zoo.small_cnn((2, 4, 4), 3, channels=(4, 4), hidden=8, seed=0)
    x = np.concatenate([tiny_x, 1 - tiny_x], axis=1)
    model = TorchModel(module, input_shape=(2, 4, 4), n_classes=3, preprocessing=([0.1, 0.9], [0.2, 0.4]))
    mean = torch.tensor([0.1, 0.9]).reshape(2, 1, 1)
    std = torch.tensor([0.2, 0.4]).reshape(2, 1, 1)
    with torch.no_grad():
        expected = module((torch.from_numpy(x) - mean) / std).numpy()
    np.testing.assert_allclose(model.logits(x), expected, atol=1e-5)


def test_preprocessing_is_inside_the_gradient(tiny_module, tiny_x):
    # d/dx f((x - m) / s) = f'(.) / s: the gradient of a scaled model is the plain one / s.
    plain = TorchModel(tiny_module, input_shape=SHAPE, n_classes=3)
    scaled = TorchModel(tiny_module, input_shape=SHAPE, n_classes=3, preprocessing=(0.0, 0.5))
    y = np.array([0, 1, 2, 0, 1])
    np.testing.assert_allclose(scaled.loss_gradient(tiny_x / 2, y), plain.loss_gradient(tiny_x, y) * 2, atol=1e-5)


def test_loss_gradient_matches_autograd_of_the_summed_cross_entropy(tiny_model, tiny_module, tiny_x):
    y = np.array([0, 1, 2, 0, 1])
    x = torch.from_numpy(tiny_x).requires_grad_(True)
    nn.functional.cross_entropy(tiny_module(x), torch.from_numpy(y), reduction="sum").backward()
    gradient = tiny_model.loss_gradient(tiny_x, y)
    assert gradient.shape == tiny_x.shape
    np.testing.assert_allclose(gradient, x.grad.numpy(), atol=1e-6)


def test_loss_gradient_leaves_parameters_unchanged_and_without_grad(tiny_model, tiny_x):
    before = [p.detach().clone() for p in tiny_model.module.parameters()]
    tiny_model.loss_gradient(tiny_x, np.zeros(5, dtype=int))
    for parameter, original in zip(tiny_model.module.parameters(), before):
        assert parameter.grad is None
        assert torch.equal(parameter, original)


def test_loss_gradient_works_inside_a_no_grad_block(tiny_model, tiny_x):
    y = np.zeros(5, dtype=int)
    expected = tiny_model.loss_gradient(tiny_x, y)
    with torch.no_grad():
        np.testing.assert_array_equal(tiny_model.loss_gradient(tiny_x, y), expected)


def test_module_is_put_in_eval_mode():
    module = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16, 3)).train()
    model = TorchModel(module, input_shape=SHAPE, n_classes=3)
    assert not module.training
    x = np.ones((4, *SHAPE), dtype=np.float32)
    np.testing.assert_array_equal(model.logits(x), model.logits(x))


def test_wrong_input_shape_says_expected_and_received(tiny_model):
    with pytest.raises(ValidationError, match=r"must have shape \(n, 1, 4, 4\), got \(2, 16\)"):
        tiny_model.predict(np.zeros((2, 16), dtype=np.float32))


def test_inputs_outside_clip_are_refused(tiny_model):
    with pytest.raises(ValidationError, match=r"input range \[0, 1\], got values in \[2, 2\]"):
        tiny_model.predict(np.full((1, *SHAPE), 2.0, dtype=np.float32))


def test_nan_inputs_are_refused(tiny_model, tiny_x):
    tiny_x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValidationError, match=r"finite"):
        tiny_model.logits(tiny_x)


def test_loss_gradient_refuses_labels_of_the_wrong_length_or_class(tiny_model, tiny_x):
    with pytest.raises(ValidationError, match=r"must have 5 labels"):
        tiny_model.loss_gradient(tiny_x, np.zeros(4, dtype=int))
    with pytest.raises(ValidationError, match=r"labels in 0..2 for a 3-class model, got 3"):
        tiny_model.loss_gradient(tiny_x, np.full(5, 3))


def test_clip_other_than_unit_range_accepts_its_own_range(tiny_module):
    model = TorchModel(tiny_module, input_shape=SHAPE, n_classes=3, clip=(-1.0, 1.0))
    x = np.full((2, *SHAPE), -1.0, dtype=np.float32)
    assert model.predict(x).shape == (2,)
    with pytest.raises(ValidationError, match=r"\[-1, 1\], got values in \[1.5, 1.5\]"):
        model.predict(np.full((1, *SHAPE), 1.5, dtype=np.float32))


@pytest.mark.parametrize(("clip", "error"), [((1.0, 0.0), ValidationError), ((0.0,), InputTypeError)])
def test_bad_clip_is_refused(tiny_module, clip, error):
    with pytest.raises(error, match=r"`clip`"):
        TorchModel(tiny_module, input_shape=SHAPE, n_classes=3, clip=clip)


def test_non_module_is_refused():
    with pytest.raises(InputTypeError, match=r"`module` must be a torch.nn.Module, got function"):
        TorchModel(lambda x: x, input_shape=SHAPE, n_classes=3)


def test_bad_preprocessing_is_refused(tiny_module):
    with pytest.raises(ValidationError, match=r"std must be positive"):
        TorchModel(tiny_module, input_shape=SHAPE, n_classes=3, preprocessing=(0.0, 0.0))
    with pytest.raises(ValidationError, match=r"one value per channel \(1\), got 3"):
        TorchModel(tiny_module, input_shape=SHAPE, n_classes=3, preprocessing=([0.1, 0.2, 0.3], 1.0))
    with pytest.raises(InputTypeError, match=r"\(mean, std\) pair"):
        TorchModel(tiny_module, input_shape=SHAPE, n_classes=3, preprocessing=0.5)


def test_one_class_is_refused(tiny_module):
    with pytest.raises(ValidationError, match=r"`n_classes`"):
        TorchModel(tiny_module, input_shape=SHAPE, n_classes=1)


def test_n_classes_that_disagrees_with_the_module_is_refused():
    with pytest.raises(ValidationError, match="`n_classes` must match the module's 10 logits per sample, got 3"):
        TorchModel(zoo.mlp((1, 8, 8), 10, hidden=(4,)), input_shape=(1, 8, 8), n_classes=3)


def test_input_shape_the_module_cannot_process_is_refused():
    with pytest.raises(ValidationError, match=r"`input_shape` gives samples of shape \(1, 4, 4\)"):
        TorchModel(zoo.mlp((1, 8, 8), 10, hidden=(4,)), input_shape=(1, 4, 4), n_classes=10)


def test_unknown_device_is_refused_by_name():
    with pytest.raises(ValidationError, match="`device` must be a torch device"):
        TorchModel(zoo.mlp((1, 8, 8), 10, hidden=(4,)), input_shape=(1, 8, 8), n_classes=10, device="gpu0")


def test_non_numeric_preprocessing_is_a_type_error():
    with pytest.raises(InputTypeError, match="`preprocessing` mean must be a number"):
        TorchModel(zoo.mlp((1, 8, 8), 10, hidden=(4,)), input_shape=(1, 8, 8), n_classes=10, preprocessing=("a", 1))


def test_output_probe_restores_training_mode_and_keeps_weights():
    module = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.BatchNorm1d(8), nn.Linear(8, 5)).train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    assert module_output_width(module, (1, 8, 8), "x") == 5
    assert module.training
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
