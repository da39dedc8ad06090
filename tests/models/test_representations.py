from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import TorchModel
from bastion.models.representations import ReferenceTrainer, data_range, default_module, penultimate


class Residual(nn.Module):
    """A non-Sequential module whose head is an nn.Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


def test_penultimate_reads_the_input_of_the_last_linear_layer():
    module = Residual()
    model = TorchModel(module, input_shape=(4,), n_classes=3)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    expected = torch.relu(module.body(torch.from_numpy(x))).detach().numpy()
    np.testing.assert_allclose(penultimate(model, x, batch_size=2), expected, rtol=1e-6)


def test_module_without_linear_layer_is_refused():
    model = TorchModel(nn.Sequential(nn.Flatten()), input_shape=(3,), n_classes=3)
    with pytest.raises(ValidationError, match=r"nn\.Linear"):
        penultimate(model, np.zeros((2, 3), np.float32))


def test_default_module_is_small_cnn_for_images_and_mlp_otherwise():
    assert default_module((1, 8, 8), 10).arch == "small_cnn"
    assert default_module((30,), 2).arch == "mlp"


def test_data_range_is_unit_interval_or_the_data_extremes():
    assert data_range(np.array([[0.2, 0.9]])) == (0.0, 1.0)
    assert data_range(np.array([[-3.0, 5.0]])) == (-3.0, 5.0)


def test_factory_returning_no_module_is_refused(breast_cancer):
    with pytest.raises(InputTypeError, match="must return a torch module"):
        ReferenceTrainer(lambda shape, k: "net").train_on(breast_cancer)


def test_trainer_uses_the_callers_factory(breast_cancer):
    model = ReferenceTrainer(lambda shape, k: nn.Sequential(nn.Linear(shape[0], k)), epochs=1).train_on(breast_cancer)
    assert isinstance(model.module, nn.Sequential) and model.n_classes == 2
