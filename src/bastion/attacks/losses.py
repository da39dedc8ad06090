"""Per-sample attack losses, written so that an attack always maximises them."""

from __future__ import annotations

import torch
from torch.nn import functional


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy, ``(n,)``."""
    return functional.cross_entropy(logits, labels, reduction="none")


def _other_max(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    masked = logits.scatter(1, labels[:, None], float("-inf"))
    return masked.amax(dim=1)


def margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Largest other logit minus the label's logit, ``(n,)`` (positive means misclassified).

    The logit-margin loss of Carlini & Wagner (2017, objective f6) without its confidence
    clamp. Unlike cross-entropy it does not saturate when the softmax does, which is what
    defeats defensive distillation.
    """
    true = logits.gather(1, labels[:, None]).squeeze(1)
    return _other_max(logits, labels) - true


def dlr(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Difference of Logits Ratio loss, ``(n,)`` (Croce & Hein 2020, Eq. 6), untargeted.

    ``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)``: invariant to shifting and rescaling the
    logits, so it is robust to the logit saturation that breaks cross-entropy.
    """
    ordered = logits.sort(dim=1, descending=True).values
    true = logits.gather(1, labels[:, None]).squeeze(1)
    scale = ordered[:, 0] - ordered[:, 2] + 1e-12
    return -(true - _other_max(logits, labels)) / scale


def dlr_targeted(logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Targeted DLR loss, ``(n,)`` (Croce & Hein 2020, Eq. 7)."""
    ordered = logits.sort(dim=1, descending=True).values
    true = logits.gather(1, labels[:, None]).squeeze(1)
    target = logits.gather(1, targets[:, None]).squeeze(1)
    scale = ordered[:, 0] - 0.5 * (ordered[:, 2] + ordered[:, 3]) + 1e-12
    return -(true - target) / scale
