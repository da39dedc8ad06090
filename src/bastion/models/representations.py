"""A model trained on a dataset, and the penultimate-layer representations it gives.

Poisoning attacks train a reference model of their own (the boundary label flip, the
boundary shift, the clean-label backdoor's perturbation); the spectral sanitizers (Tran et
al. 2018, Chen et al. 2018, Hayase et al. 2021) read the representations of a model trained
on the data they clean. Both go through :class:`ReferenceTrainer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import zoo
from bastion.models.torch import TorchModel
from bastion.models.training import fit
from bastion.validation import check_scalar, check_seed


def default_module(input_shape: tuple[int, ...], n_classes: int, *, seed: int = 0) -> nn.Module:
    """bastion's zoo network for the input: ``small_cnn`` for images ``(c, h, w)``, ``mlp`` otherwise."""
    if len(input_shape) == 3 and input_shape[1] >= 2 and input_shape[2] >= 2:
        return zoo.small_cnn(input_shape, n_classes, seed=seed)
    return zoo.mlp(input_shape, n_classes, seed=seed)


def data_range(x: np.ndarray) -> tuple[float, float]:
    """The valid input range of a training set: [0, 1] when it fits inside, else its min and max."""
    low, high = float(x.min()), float(x.max())
    if low >= 0.0 and high <= 1.0:
        return (0.0, 1.0)
    return (low, high) if high > low else (low, low + 1.0)


class ReferenceTrainer:
    """Train a fresh classifier on a dataset's training split (seeded).

    Args:
        module_factory: ``None`` for :func:`default_module`, or a callable
            ``(input_shape, n_classes) -> nn.Module`` returning a fresh module that maps
            ``(n, *input_shape)`` to logits.
        epochs, lr, batch_size: the Adam schedule (see :func:`bastion.models.fit`).
        seed: seeds the initial weights (zoo networks) and the shuffling.
        progress: show a progress bar.

    Raises:
        InputTypeError: ``module_factory`` is neither ``None`` nor callable.
        ValidationError: a training setting is out of range.
    """

    def __init__(
        self,
        module_factory: Callable[[tuple[int, ...], int], nn.Module] | None = None,
        *,
        epochs: int = 15,
        lr: float = 1e-3,
        batch_size: int = 64,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        if module_factory is not None and (not callable(module_factory) or isinstance(module_factory, nn.Module)):
            raise InputTypeError(
                "`module_factory` must be None or a callable (input_shape, n_classes) -> torch module, "
                f"got {type(module_factory).__name__}"
            )
        self.module_factory = module_factory
        self.epochs = check_scalar(epochs, "epochs", kind=int, low=1)
        self.lr = check_scalar(lr, "lr", low=0, include_low=False)
        self.batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
        self.seed = check_seed(seed)
        self.progress = bool(progress)

    def train(
        self,
        x: np.ndarray,
        y: np.ndarray,
        input_shape: tuple[int, ...],
        n_classes: int,
        *,
        description: str = "reference model",
    ) -> TorchModel:
        """Train on ``(x, y)``; return a :class:`TorchModel` whose clip is the data's range."""
        if self.module_factory is None:
            module = default_module(input_shape, n_classes, seed=self.seed)
        else:
            module = self.module_factory(tuple(input_shape), n_classes)
            if not isinstance(module, nn.Module):
                raise InputTypeError(f"`module_factory` must return a torch module, got {type(module).__name__}")
        fit(
            module,
            x,
            y,
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=self.seed,
            progress=self.progress,
            description=description,
        )
        return TorchModel(module, input_shape=input_shape, n_classes=n_classes, clip=data_range(x))

    def train_on(self, dataset: Any, *, description: str = "reference model") -> TorchModel:
        """Train on ``dataset``'s training split."""
        return self.train(
            dataset.x_train, dataset.y_train, dataset.input_shape, dataset.n_classes, description=description
        )


def _last_linear(module: nn.Module) -> nn.Linear:
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValidationError(
            "the module has no nn.Linear layer; representations are the input of its last linear layer"
        )
    return linears[-1]


@torch.no_grad()
def penultimate(model: TorchModel, x: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """The inputs of the model's last linear layer (its penultimate representations), ``(n, d)`` float64.

    Read through a forward hook, so any module whose head is an ``nn.Linear`` works.
    """
    head = _last_linear(model.module)
    captured: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0].detach()))
    try:
        for start in range(0, len(x), batch_size):
            model.logits_tensor(model.to_tensor(x[start : start + batch_size]))
    finally:
        handle.remove()
    return torch.cat(captured).flatten(1).double().cpu().numpy()
