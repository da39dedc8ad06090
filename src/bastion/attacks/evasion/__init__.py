"""Evasion attacks: adversarial examples at test time."""

from bastion.attacks.evasion.apgd import APGD
from bastion.attacks.evasion.carlini_wagner import CarliniWagnerL2
from bastion.attacks.evasion.fgsm import FGSM
from bastion.attacks.evasion.pgd import PGD

__all__ = ["APGD", "FGSM", "PGD", "CarliniWagnerL2"]
