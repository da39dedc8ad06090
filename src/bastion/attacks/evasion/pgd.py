"""Projected Gradient Descent."""

from __future__ import annotations

from typing import Any

import torch

from bastion.attacks.evasion.base import (
    EvasionAttack,
    check_eps,
    check_loss,
    check_norm,
    is_adversarial,
    objective_gradient,
)
from bastion.attacks.norms import ascent_direction, clip_to_range, per_sample, project, random_start
from bastion.validation import check_scalar, check_seed


class PGD(EvasionAttack):
    """Iterated gradient steps projected back onto the eps-ball.

    Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models Resistant to
    Adversarial Attacks", ICLR 2018, Sec. 2.1, Eq. (2):
    ``x_{t+1} = Proj_{x + S}(x_t + alpha * sign(grad_x L(theta, x_t, y)))``, started at a
    uniformly random point of the ball. Each step is one forward and one backward pass.
    A sample found adversarial at any step keeps that iterate (the logits of each step's
    gradient pass tell, so this costs no extra query).

    Args:
        eps: radius of the ball, in the model's input units.
        alpha: step size; defaults to ``2.5 * eps / steps`` (Madry et al.'s schedule).
        steps: number of iterations.
        norm: ``"inf"`` or ``"2"``.
        random_start: start from a uniform point of the ball instead of ``x``.
        loss: ``"ce"`` (the paper), ``"margin"`` (Carlini & Wagner's) or ``"dlr"``.
        seed: seed of the random start.

    Example:
        >>> x_adv = PGD(eps=0.1, steps=20).generate(model, x, y)
    """

    def __init__(
        self,
        eps: float,
        *,
        alpha: float | None = None,
        steps: int = 20,
        norm: str = "inf",
        random_start: bool = True,
        loss: str = "ce",
        seed: int = 0,
    ) -> None:
        self.eps = check_eps(eps)
        self.steps = check_scalar(steps, "steps", kind=int, low=1)
        self.alpha = 2.5 * self.eps / self.steps if alpha is None else check_scalar(alpha, "alpha", low=0)
        self.norm = check_norm(norm)
        self.random_start = bool(random_start)
        self.loss = check_loss(loss)
        self.seed = check_seed(seed)

    def _attack(self, model: Any, x, labels, targets, generator) -> torch.Tensor:
        adversarial = x
        if self.random_start:
            adversarial = clip_to_range(x + random_start(x.shape, self.norm, self.eps, generator, x.device), model.clip)
        best = adversarial
        found = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for _ in range(self.steps):
            _, gradient, logits = objective_gradient(model, adversarial, labels, targets, self.loss)
            newly = is_adversarial(logits, labels, targets) & ~found
            best = torch.where(per_sample(newly, x), adversarial, best)
            found |= newly
            stepped = adversarial + self.alpha * ascent_direction(gradient, self.norm)
            adversarial = clip_to_range(x + project(stepped - x, self.norm, self.eps), model.clip)
        return torch.where(per_sample(found, x), best, adversarial)
