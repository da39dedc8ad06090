"""Projected Gradient Descent."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bastion.attacks.evasion.base import EvasionAttack, check_eps, check_loss, check_norm, is_adversarial, objective
from bastion.attacks.norms import _TINY, clip_to_range, l2_norms, per_sample
from bastion.attacks.norms import random_start as start_in_ball
from bastion.models.base import WhiteBoxModel
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

    def _attack(
        self,
        model: WhiteBoxModel,
        x: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None,
        generator: torch.Generator,
    ) -> torch.Tensor:
        def attack_objective(x_adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            logits = model.logits_tensor(x_adv)
            return objective(logits, labels, targets, self.loss), is_adversarial(logits.detach(), labels, targets)

        return ascent(
            attack_objective,
            x,
            eps=self.eps,
            alpha=self.alpha,
            steps=self.steps,
            norm=self.norm,
            clip=model.clip,
            generator=generator,
            random_start=self.random_start,
        )


Objective = Callable[[torch.Tensor], "torch.Tensor | tuple[torch.Tensor, torch.Tensor]"]


def ascent(
    objective: Objective,
    x: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    norm: str,
    clip: tuple[float, float],
    generator: torch.Generator,
    random_start: bool = True,
) -> torch.Tensor:
    """PGD's projected ascent of a per-sample objective inside the eps-ball (Madry et al., Eq. 2).

    ``x_{t+1} = Proj_{x + S}(x_t + alpha * d(grad J(x_t)))`` with ``d`` the sign (L-inf) or
    the normalised gradient (L2), clipped to ``clip``, from a uniform point of the ball when
    ``random_start``. One forward and one backward pass of ``objective`` per step.

    Args:
        objective: ``J(x_adv)``, differentiable, returning the ``(n,)`` values to maximise,
            or ``(values, success)`` where ``success`` is an ``(n,)`` bool computed in the
            same pass: a sample that succeeds at a step keeps that iterate (PGD's rule for
            evaluation). Without ``success`` the last iterate is returned (what adversarial
            training wants).
        x: the clean batch, a tensor inside ``clip``.
        eps, alpha, steps, norm: radius, step size, number of steps, ``"inf"`` or ``"2"``.
        clip: the valid input range.
        generator: the seeded generator of the random start.
        random_start: start from a uniform point of the ball instead of ``x``.

    Returns:
        A detached tensor like ``x``, inside the ball and ``clip`` (up to the final
        projection the caller applies).
    """
    # One buffer for the iterate, updated in place, and the step direction written over the
    # gradient autograd hands back: beside the forward and backward pass a step allocates
    # nothing of the batch's size. The arithmetic is the textbook ``x + Proj(x_t + alpha * d - x)``
    # (for L-inf, ``x_t + alpha * sign(g)`` in one fused add, exact since ``alpha * (+-1)`` is).
    if random_start:
        adversarial = clip_to_range(x + start_in_ball(x.shape, norm, eps, generator, x.device), clip)
    else:
        adversarial = x.clone()
    radius = None if norm == "inf" else torch.full((len(x),), float(eps), device=x.device)
    best = None
    found = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for _ in range(steps):
        # enable_grad: the ascent may run inside a caller's no_grad block.
        with torch.enable_grad():
            point = adversarial.detach().requires_grad_(True)
            answer = objective(point)
            values, success = answer if isinstance(answer, tuple) else (answer, None)
            (gradient,) = torch.autograd.grad(values.sum(), point)
        if success is not None:
            newly = success > found  # succeeded now, not before
            if newly.any():
                # The samples that just succeeded keep the iterate they succeeded at.
                if best is None:
                    best = torch.empty_like(x)
                torch.where(per_sample(newly, x), adversarial, best, out=best)
                found |= newly
        if norm == "inf":
            adversarial.add_(gradient.sign_(), alpha=alpha).sub_(x).clamp_(-eps, eps)
        else:
            adversarial.add_(gradient.div_(per_sample(l2_norms(gradient) + _TINY, gradient)).mul_(alpha)).sub_(x)
            adversarial.mul_(per_sample(torch.clamp(radius / (l2_norms(adversarial) + _TINY), max=1.0), x))
        adversarial.add_(x).clamp_(clip[0], clip[1])
    if best is None:
        return adversarial
    return torch.where(per_sample(found, x), best, adversarial)
