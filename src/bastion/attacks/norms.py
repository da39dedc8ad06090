"""Norm balls: projection, steepest-ascent directions and random starts, in torch.

Every evasion attack uses these and nothing else for the geometry of its threat model,
so the eps-ball guarantee is written once. ``norm`` is ``"inf"`` or ``"2"``; perturbations
are measured per sample over all of its features.
"""

from __future__ import annotations

import numpy as np
import torch

NORMS = ("inf", "2")
_TINY = 1e-12


def per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a ``(n,)`` vector to broadcast against a batch shaped like ``like``."""
    return values.view((-1,) + (1,) * (like.dim() - 1))


def l2_norms(delta: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norms, ``(n,)``."""
    return delta.flatten(1).norm(p=2, dim=1)


def linf_norms(delta: torch.Tensor) -> torch.Tensor:
    """Per-sample L-infinity norms, ``(n,)``."""
    return delta.flatten(1).abs().amax(dim=1)


def norms(delta: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample norms of ``delta`` under ``norm``."""
    return linf_norms(delta) if norm == "inf" else l2_norms(delta)


def project(delta: torch.Tensor, norm: str, eps: float | torch.Tensor, *, in_place: bool = False) -> torch.Tensor:
    """Project perturbations onto the ``norm`` ball of radius ``eps`` (scalar or ``(n,)``).

    ``in_place=True`` writes the projection over ``delta`` (a temporary the caller owns) instead
    of allocating a batch-sized result.
    """
    if norm == "inf":
        bound = per_sample(eps, delta) if isinstance(eps, torch.Tensor) else eps
        return delta.clamp_(-bound, bound) if in_place else delta.clamp(-bound, bound)
    radius = eps if isinstance(eps, torch.Tensor) else torch.full((delta.shape[0],), float(eps), device=delta.device)
    factor = per_sample(torch.clamp(radius / (l2_norms(delta) + _TINY), max=1.0), delta)
    return delta.mul_(factor) if in_place else delta * factor


def ascent_direction(gradient: torch.Tensor, norm: str) -> torch.Tensor:
    """The steepest-ascent direction of unit ``norm`` for a gradient (sign for L-inf)."""
    if norm == "inf":
        return gradient.sign()
    return gradient / per_sample(l2_norms(gradient) + _TINY, gradient)


def random_start(shape: torch.Size, norm: str, eps: float, generator: torch.Generator, device) -> torch.Tensor:
    """A perturbation drawn uniformly from the ``norm`` ball of radius ``eps``."""
    if norm == "inf":
        return torch.empty(shape).uniform_(-eps, eps, generator=generator).to(device)
    direction = torch.randn(shape, generator=generator)
    direction = direction / per_sample(l2_norms(direction) + _TINY, direction)
    n_features = direction[0].numel()
    radius = torch.rand(shape[0], generator=generator).pow(1.0 / n_features) * eps
    return (direction * per_sample(radius, direction)).to(device)


def clip_to_range(x: torch.Tensor, clip: tuple[float, float]) -> torch.Tensor:
    """Clamp inputs to the model's valid range."""
    return x.clamp(clip[0], clip[1])


def constrain(x: torch.Tensor, adversarial: torch.Tensor, norm: str | None, eps: float | None, clip) -> torch.Tensor:
    """``adversarial`` moved back into the eps-ball around ``x`` (when ``eps`` is set) and into ``clip``.

    One batch-sized temporary, the perturbation, projected and shifted back in place.
    """
    if eps is None:
        return clip_to_range(adversarial, clip)
    return project(adversarial - x, norm, eps, in_place=True).add_(x).clamp_(clip[0], clip[1])


def sample_norms(delta: np.ndarray, norm: str) -> np.ndarray:
    """Per-sample norms of a numpy batch of perturbations, ``(n,)`` float64 (for measuring results)."""
    return norms(torch.from_numpy(np.asarray(delta, dtype=np.float64)), norm).numpy()
