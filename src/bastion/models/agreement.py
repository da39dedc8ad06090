"""Whether a faster way of running a module answers like the module itself."""

from __future__ import annotations

from typing import Any

import torch

# Largest difference allowed between the two answers, relative to the logits' scale:
# float32 round-off of another summation order or of fused kernels.
TOLERANCE = 1e-4


def check_batch(n: int, sample_shape: tuple[int, ...], low: float, high: float, device: Any, seed: int) -> torch.Tensor:
    """``n`` inputs drawn uniformly from ``[low, high]`` with a fixed seed, on ``device``."""
    generator = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand((n, *sample_shape), generator=generator)).to(device)


def answers_alike(fast: Any, expected: torch.Tensor) -> bool:
    """Whether ``fast`` is a tensor of ``expected``'s shape within :data:`TOLERANCE` of it."""
    if not isinstance(fast, torch.Tensor) or fast.shape != expected.shape:
        return False
    scale = float(expected.abs().max()) + 1.0
    return bool((fast - expected).abs().max() <= TOLERANCE * scale)
