"""Fast Gradient Sign Method."""

from __future__ import annotations

import torch

from bastion.attacks.evasion.base import EvasionAttack, check_eps, check_loss, check_norm, objective_gradient
from bastion.attacks.norms import ascent_direction, clip_to_range
from bastion.models.base import WhiteBoxModel


class FGSM(EvasionAttack):
    """One step of size ``eps`` along the sign of the loss gradient.

    Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples",
    ICLR 2015, Sec. 4, Eq. (1): ``x_adv = x + eps * sign(grad_x J(theta, x, y))``.
    With ``norm="2"`` this is the fast gradient method along the L2-normalised gradient.
    Targeted mode steps down the loss of the target class.

    Args:
        eps: perturbation budget, in the model's input units (e.g. 0.1 on [0, 1] pixels).
        norm: ``"inf"`` (FGSM proper) or ``"2"``.
        loss: ``"ce"`` (the paper), ``"margin"`` or ``"dlr"``.

    Example:
        >>> x_adv = FGSM(eps=0.1).generate(model, x, y)
    """

    def __init__(self, eps: float, *, norm: str = "inf", loss: str = "ce") -> None:
        self.eps = check_eps(eps)
        self.norm = check_norm(norm)
        self.loss = check_loss(loss)

    def _attack(
        self,
        model: WhiteBoxModel,
        x: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None,
        generator: torch.Generator,
    ) -> torch.Tensor:
        _, gradient, _ = objective_gradient(model, x, labels, targets, self.loss)
        return clip_to_range(x + self.eps * ascent_direction(gradient, self.norm), model.clip)
