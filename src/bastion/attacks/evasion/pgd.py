"""Projected Gradient Descent."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bastion.attacks.evasion.base import EvasionAttack, check_eps, check_loss, check_norm, is_adversarial, objective
from bastion.attacks.norms import _TINY, l2_norms, per_sample
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
    gradient pass tell, so this costs no extra query) and, with ``early_stop``, leaves the
    batch: the later steps pass only the samples still correctly classified through the model.

    Args:
        eps: radius of the ball, in the model's input units.
        alpha: step size; defaults to ``2.5 * eps / steps`` (Madry et al.'s schedule).
        steps: number of iterations.
        norm: ``"inf"`` or ``"2"``.
        random_start: start from a uniform point of the ball instead of ``x``.
        loss: ``"ce"`` (the paper), ``"margin"`` (Carlini & Wagner's) or ``"dlr"``.
        early_stop: drop a sample from the batch once it is adversarial. Its iterate is final
            either way, so the result is the same, with fewer passes and queries; ``False``
            keeps every sample in every pass (for a model whose answer for one sample depends
            on the rest of its batch).
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
        early_stop: bool = True,
        seed: int = 0,
    ) -> None:
        self.eps = check_eps(eps)
        self.steps = check_scalar(steps, "steps", kind=int, low=1)
        self.alpha = 2.5 * self.eps / self.steps if alpha is None else check_scalar(alpha, "alpha", low=0)
        self.norm = check_norm(norm)
        self.random_start = bool(random_start)
        self.loss = check_loss(loss)
        self.early_stop = bool(early_stop)
        self.seed = check_seed(seed)

    def _attack(
        self,
        model: WhiteBoxModel,
        x: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None,
        generator: torch.Generator,
    ) -> torch.Tensor:
        def attack_objective(
            x_adv: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None
        ) -> tuple[torch.Tensor, torch.Tensor]:
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
            context=(labels, targets),
            early_stop=self.early_stop,
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
    context: tuple[torch.Tensor | None, ...] = (),
    early_stop: bool = True,
) -> torch.Tensor:
    """PGD's projected ascent of a per-sample objective inside the eps-ball (Madry et al., Eq. 2).

    ``x_{t+1} = Proj_{x + S}(x_t + alpha * d(grad J(x_t)))`` with ``d`` the sign (L-inf) or
    the normalised gradient (L2), clipped to ``clip``, from a uniform point of the ball when
    ``random_start``. One forward and one backward pass of ``objective`` per step.

    Args:
        objective: ``J(x_adv, *context)``, differentiable, returning the ``(m,)`` values to
            maximise for the ``m`` rows of ``x_adv``, or ``(values, success)`` where
            ``success`` is an ``(m,)`` bool computed in the same pass: a sample that succeeds
            at a step keeps that iterate (PGD's rule for evaluation) and takes no further
            steps. Without ``success`` the last iterate is returned (what adversarial training
            wants).
        x: the clean batch, a tensor inside ``clip``.
        eps, alpha, steps, norm: radius, step size, number of steps, ``"inf"`` or ``"2"``.
        clip: the valid input range.
        generator: the seeded generator of the random start.
        random_start: start from a uniform point of the ball instead of ``x``.
        context: per-sample tensors (or ``None``) passed to ``objective`` after ``x_adv``,
            row for row with it, such as the labels and the targets.
        early_stop: a sample that succeeds also leaves the batch, with its rows of
            ``context``: later steps pass only the others to ``objective``. Otherwise it
            stays, taking steps of size zero.

    Returns:
        A detached tensor like ``x``, inside the ball and ``clip`` (up to the final
        projection the caller applies).
    """
    # One buffer for the iterate, updated in place, and the step direction written over the
    # gradient autograd hands back: beside the forward and backward pass a step allocates
    # nothing of the batch's size. For L-inf the projection onto the ball intersected with
    # ``clip``, ``clip(x + clamp(x_t - x, -eps, eps))``, is one clamp between per-pixel bounds
    # computed once, ``max(x - eps, low)`` and ``min(x + eps, high)``; with the step in one
    # fused multiply-add, a step is three passes over the batch.
    if norm == "inf":
        lowest, highest = (x - eps).clamp_(min=clip[0]), (x + eps).clamp_(max=clip[1])
    else:
        radius = torch.full((len(x),), float(eps), device=x.device)
    if random_start:
        adversarial = start_in_ball(x.shape, norm, eps, generator, x.device).add_(x).clamp_(clip[0], clip[1])
    else:
        adversarial = x.clone()
    # Each sample's step size: zero once it succeeded, when it stays in the batch.
    step = per_sample(torch.full((len(x),), float(alpha), dtype=x.dtype, device=x.device), x)
    # Once samples have left the batch: the positions in ``x`` of those still stepped, whose
    # rows of the iterate are ``current``; the others' rows of ``adversarial`` are final.
    rows = None
    current, origin = adversarial, x
    seeds = None
    # enable_grad: the ascent may run inside a caller's no_grad block.
    with torch.enable_grad():
        for _ in range(steps):
            point = current.detach().requires_grad_(True)
            answer = objective(point, *context)
            values, success = answer if isinstance(answer, tuple) else (answer, None)
            # The gradient of the sum, seeded with ones rather than through a ``sum`` node.
            if seeds is None or len(seeds) != len(values):
                seeds = torch.ones_like(values)
            (gradient,) = torch.autograd.grad(values, point, grad_outputs=seeds)
            if success is not None and not early_stop:
                step.masked_fill_(per_sample(success, x), 0.0)
            elif success is not None and bool(success.any()):
                if rows is None:
                    rows = torch.arange(len(x), device=x.device)
                else:
                    adversarial[rows[success]] = current[success]
                keep = ~success
                rows = rows[keep]
                if not len(rows):
                    return adversarial
                current, gradient, step = current[keep], gradient[keep], step[keep]
                context = tuple(None if tensor is None else tensor[keep] for tensor in context)
                if norm == "inf":
                    lowest, highest = lowest[keep], highest[keep]
                else:
                    origin, radius = origin[keep], radius[keep]
            if norm == "inf":
                current.addcmul_(gradient.sign_(), step).clamp_(lowest, highest)
            else:
                direction = gradient.div_(per_sample(l2_norms(gradient) + _TINY, gradient))
                current.addcmul_(direction, step).sub_(origin)
                current.mul_(per_sample(torch.clamp(radius / (l2_norms(current) + _TINY), max=1.0), current))
                current.add_(origin).clamp_(clip[0], clip[1])
    if rows is not None:
        adversarial[rows] = current
    return adversarial
