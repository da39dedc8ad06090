"""Zoo architectures: shapes, seeds, and rebuilding from the recorded config."""

from __future__ import annotations

import pytest
import torch

from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import zoo


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_mlp_maps_images_to_logits():
    module = zoo.mlp((1, 8, 8), 10, hidden=(16, 8))
    assert module(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert [m.out_features for m in module if isinstance(m, torch.nn.Linear)] == [16, 8, 10]


def test_mlp_without_hidden_layers_is_logistic_regression():
    module = zoo.mlp((30,), 2, hidden=())
    assert [type(m).__name__ for m in module] == ["Flatten", "Linear"]


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 5, 7)])
def test_small_cnn_fits_its_input_shapes(shape):
    module = zoo.small_cnn(shape, 4, channels=(4, 8), hidden=16)
    assert module(torch.zeros(2, *shape)).shape == (2, 4)


def test_same_seed_same_weights_other_seed_other_weights():
    assert same_weights(zoo.small_cnn((1, 8, 8), 10, seed=1), zoo.small_cnn((1, 8, 8), 10, seed=1))
    assert not same_weights(zoo.small_cnn((1, 8, 8), 10, seed=1), zoo.small_cnn((1, 8, 8), 10, seed=2))


def test_building_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    zoo.mlp((4,), 2, seed=7)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("arch", ["mlp", "small_cnn"])
def test_build_from_the_recorded_config_gives_the_same_module(arch):
    original = zoo.ARCHITECTURES[arch]((1, 8, 8), 10, seed=3)
    rebuilt = zoo.build(original.arch, original.config)
    assert rebuilt.arch == arch and rebuilt.config == original.config
    assert same_weights(original, rebuilt)


def test_build_refuses_unknown_architectures():
    with pytest.raises(ValidationError, match=r"`arch` must be one of \['mlp', 'small_cnn'\], got 'resnet'"):
        zoo.build("resnet", {"input_shape": [1], "n_classes": 2})


def test_small_cnn_refuses_flat_inputs():
    with pytest.raises(ValidationError, match=r"\(channels, height >= 2, width >= 2\) for small_cnn, got \(30,\)"):
        zoo.small_cnn((30,), 2)


def test_small_cnn_refuses_a_wrong_number_of_channel_widths():
    with pytest.raises(ValidationError, match=r"`channels` must hold two widths"):
        zoo.small_cnn((1, 8, 8), 10, channels=(8,))


def test_bad_widths_are_refused():
    with pytest.raises(ValidationError, match=r"`hidden`"):
        zoo.mlp((4,), 2, hidden=(0,))


def test_mlp_refuses_a_single_int_as_hidden_widths():
    with pytest.raises(InputTypeError, match=r"`hidden` must be a sequence of layer widths such as \(64,\), got 64"):
        zoo.mlp((1, 8, 8), 10, hidden=64)


def test_build_refuses_a_config_without_the_shape_by_name():
    with pytest.raises(InputTypeError, match="`config` must be a dict with 'input_shape' and 'n_classes'"):
        zoo.build("mlp", {"n_classes": 10})


def test_build_refuses_a_config_key_the_architecture_does_not_take():
    with pytest.raises(InputTypeError, match=r"`config` does not fit zoo\.mlp"):
        zoo.build("mlp", {"input_shape": [64], "n_classes": 10, "channels": [4]})
