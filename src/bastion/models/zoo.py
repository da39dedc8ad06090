"""Small reference architectures, named so that ``io.save`` can rebuild them from a spec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from bastion.exceptions import BastionError, InputTypeError, ValidationError
from bastion.models.base import check_input_shape
from bastion.validation import check_scalar, check_seed


class ZooNet(nn.Sequential):
    """An ``nn.Sequential`` that remembers the architecture and arguments it was built from."""

    def __init__(self, arch: str, config: dict[str, Any], *layers: nn.Module) -> None:
        super().__init__(*layers)
        self.arch = arch
        self.config = config


def _seeded(seed: int):
    # Initialise under a private RNG so building a model never disturbs the caller's RNG.
    fork = torch.random.fork_rng(devices=[])
    fork.__enter__()
    torch.manual_seed(check_seed(seed))
    return fork


def mlp(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    hidden: Sequence[int] = (128,),
    seed: int = 0,
) -> ZooNet:
    """A ReLU multilayer perceptron over the flattened input.

    Args:
        input_shape: shape of one sample.
        n_classes: number of outputs (logits).
        hidden: widths of the hidden layers; ``()`` gives multinomial logistic regression.
        seed: seed of the weight initialisation.
    """
    input_shape = check_input_shape(input_shape)
    n_classes = check_scalar(n_classes, "n_classes", kind=int, low=2)
    if not isinstance(hidden, (tuple, list)):
        raise InputTypeError(f"`hidden` must be a sequence of layer widths such as (64,), got {hidden!r}")
    hidden = tuple(check_scalar(h, "hidden", kind=int, low=1) for h in hidden)
    config = {"input_shape": list(input_shape), "n_classes": n_classes, "hidden": list(hidden), "seed": seed}
    fork = _seeded(seed)
    try:
        layers: list[nn.Module] = [nn.Flatten()]
        width = 1
        for s in input_shape:
            width *= s
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_classes))
        return ZooNet("mlp", config, *layers)
    finally:
        fork.__exit__(None, None, None)


def small_cnn(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    channels: Sequence[int] = (32, 64),
    hidden: int = 128,
    seed: int = 0,
) -> ZooNet:
    """Two 3x3 conv layers, a 2x2 max-pool and two dense layers.

    Sized for 8x8 digits and 28x28 MNIST (input ``(c, h, w)`` with ``h, w >= 2``).
    """
    input_shape = check_input_shape(input_shape)
    if len(input_shape) != 3 or input_shape[1] < 2 or input_shape[2] < 2:
        raise ValidationError(
            f"`input_shape` must be (channels, height >= 2, width >= 2) for small_cnn, got {input_shape}"
        )
    n_classes = check_scalar(n_classes, "n_classes", kind=int, low=2)
    if len(channels) != 2:
        raise ValidationError(f"`channels` must hold two widths, got {tuple(channels)}")
    c1, c2 = (check_scalar(c, "channels", kind=int, low=1) for c in channels)
    hidden = check_scalar(hidden, "hidden", kind=int, low=1)
    config = {
        "input_shape": list(input_shape),
        "n_classes": n_classes,
        "channels": [c1, c2],
        "hidden": hidden,
        "seed": seed,
    }
    fork = _seeded(seed)
    try:
        c, h, w = input_shape
        return ZooNet(
            "small_cnn",
            config,
            nn.Conv2d(c, c1, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c2 * (h // 2) * (w // 2), hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),
        )
    finally:
        fork.__exit__(None, None, None)


ARCHITECTURES = {"mlp": mlp, "small_cnn": small_cnn}


def build(arch: str, config: dict[str, Any]) -> ZooNet:
    """Rebuild a zoo architecture from its name and the config it recorded."""
    if arch not in ARCHITECTURES:
        raise ValidationError(f"`arch` must be one of {sorted(ARCHITECTURES)}, got {arch!r}")
    if not isinstance(config, dict) or not {"input_shape", "n_classes"} <= config.keys():
        raise InputTypeError(f"`config` must be a dict with 'input_shape' and 'n_classes', got {config!r}")
    config = dict(config)
    input_shape = config.pop("input_shape")
    n_classes = config.pop("n_classes")
    try:
        return ARCHITECTURES[arch](tuple(input_shape), n_classes, **config)
    except TypeError as error:
        if isinstance(error, BastionError):
            raise
        raise InputTypeError(f"`config` does not fit zoo.{arch}: {error}") from error
