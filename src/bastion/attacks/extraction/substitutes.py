"""The attacker's substitute networks: built from a zoo name or any builder function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from bastion.exceptions import InputTypeError
from bastion.models.torch import TorchModel
from bastion.models.zoo import ARCHITECTURES
from bastion.validation import check_choice

Builder = Callable[[tuple[int, ...], int, int], nn.Module]


def check_architecture(architecture: Any) -> str | Builder:
    """A zoo name (``"mlp"``, ``"small_cnn"``) or a callable ``(input_shape, n_classes, seed)``."""
    if callable(architecture):
        return architecture
    if not isinstance(architecture, str):
        raise InputTypeError(
            "`architecture` must be a zoo name or a callable (input_shape, n_classes, seed) -> "
            f"nn.Module, got {type(architecture).__name__}"
        )
    return check_choice(architecture, "architecture", sorted(ARCHITECTURES))


def build_substitute(architecture: str | Builder, target: Any, seed: int) -> nn.Module:
    """A fresh, seeded substitute module for ``target``'s input shape and classes."""
    shape, k = tuple(target.input_shape), target.n_classes
    module = (
        ARCHITECTURES[architecture](shape, k, seed=seed)
        if isinstance(architecture, str)
        else architecture(shape, k, seed)
    )
    if not isinstance(module, nn.Module):
        raise InputTypeError(f"`architecture` must build a torch.nn.Module, got {type(module).__name__}")
    return module


def as_model(module: nn.Module, target: Any) -> TorchModel:
    """The trained substitute as a white-box TorchModel shaped like ``target``."""
    return TorchModel(module, input_shape=target.input_shape, n_classes=target.n_classes, clip=target.clip)
