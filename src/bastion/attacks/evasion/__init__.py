"""Evasion attacks: adversarial examples at test time."""

from bastion.attacks.evasion.fgsm import FGSM
from bastion.attacks.evasion.pgd import PGD

__all__ = ["FGSM", "PGD"]
