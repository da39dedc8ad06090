"""Seeded, batched supervised training of torch modules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from bastion.exceptions import InputTypeError, ValidationError
from bastion.models.torch import module_output_width
from bastion.validation import check_inputs, check_labels, check_scalar, check_seed


def _check_targets(y: Any, n_samples: int) -> np.ndarray:
    """Hard labels ``(n,)`` or soft labels ``(n, k)`` (rows are distributions)."""
    array = np.asarray(y)
    if array.ndim == 2 and np.issubdtype(array.dtype, np.floating):
        if array.shape[0] != n_samples:
            raise ValidationError(f"`y` must have {n_samples} rows (one per input), got {array.shape[0]}")
        if not np.all(np.isfinite(array)) or array.min() < 0 or not np.allclose(array.sum(axis=1), 1, atol=1e-3):
            raise ValidationError("`y` soft labels must be finite, non-negative rows that sum to 1")
        return array.astype(np.float32)
    return check_labels(array, "y", n_samples=n_samples)


def check_loss(loss: float, *, lr: float, epoch: int | None = None, who: str = "training") -> float:
    """Refuse a loss that is NaN or infinite: training diverged, and every later step is garbage.

    Args:
        loss: the batch loss just computed (already a Python float).
        lr: the learning rate, for the message.
        epoch: the epoch it was computed in (from 1), for the message, if known.
        who: what was training.

    Raises:
        ValidationError: naming the epoch and ``lr``.
    """
    if not math.isfinite(loss):
        raise ValidationError(
            f"{who} diverged: the loss became {loss}{'' if epoch is None else f' in epoch {epoch}'} with "
            f"`lr`={lr:g}; lower `lr`, "
            "or check the inputs' scale and the labels (the model is left in its diverged state)"
        )
    return loss


def fit(
    module: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    temperature: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    description: str = "training",
) -> nn.Module:
    """Train ``module`` in place with Adam on cross-entropy; return it in eval mode.

    Args:
        module: a torch module mapping ``(n, *input_shape)`` to logits.
        x: float inputs ``(n, *input_shape)``.
        y: int labels ``(n,)``, or soft labels ``(n, k)`` whose rows sum to 1 (distillation,
            PATE students, knockoff substitutes).
        epochs, lr, batch_size, weight_decay: the optimisation schedule.
        temperature: logits are divided by it before the softmax (defensive distillation
            trains at T > 1).
        seed: seeds the shuffling and any dropout; same seed, same weights.
        progress: show a progress bar with the running loss.
        description: the progress bar's label.

    Raises:
        ValidationError: bad shapes, labels or hyperparameters, or a loss that became NaN
            or infinite (training diverged).
    """
    if not isinstance(module, nn.Module):
        raise InputTypeError(f"`module` must be a torch.nn.Module, got {type(module).__name__}")
    x = check_inputs(x, "x")
    targets = _check_targets(y, len(x))
    epochs = check_scalar(epochs, "epochs", kind=int, low=1)
    lr = check_scalar(lr, "lr", low=0, include_low=False)
    batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
    weight_decay = check_scalar(weight_decay, "weight_decay", low=0)
    temperature = check_scalar(temperature, "temperature", low=0, include_low=False)
    seed = check_seed(seed)
    width = module_output_width(module, x.shape[1:], "x")
    if targets.ndim == 2 and targets.shape[1] != width:
        raise ValidationError(
            f"`y` soft labels must have {width} columns (the module's logits), got {targets.shape[1]}"
        )
    if targets.ndim == 1 and targets.size and targets.max() >= width:
        raise ValidationError(
            f"`y` must hold labels in 0..{width - 1} for a module with {width} logits, got {int(targets.max())}"
        )

    device = next(module.parameters()).device
    inputs = torch.as_tensor(x, device=device)
    labels = torch.as_tensor(targets, device=device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    n_batches = -(-len(x) // batch_size)
    module.train()
    # enable_grad: callers may train from inside a no_grad block (e.g. while labelling data).
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(seed)
        bar = tqdm(range(epochs), desc=description, disable=not progress, leave=False)
        for epoch in bar:
            order = torch.randperm(len(x), generator=generator).to(device)
            total = 0.0
            for start in range(0, len(x), batch_size):
                index = order[start : start + batch_size]
                logits = module(inputs[index]) / temperature
                loss = nn.functional.cross_entropy(logits, labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += check_loss(loss.item(), epoch=epoch + 1, lr=lr, who=description)
            bar.set_postfix(loss=f"{total / n_batches:.4f}")
    module.eval()
    return module
