"""Evasion attacks: adversarial examples at test time."""

from bastion.attacks.evasion.apgd import APGD
from bastion.attacks.evasion.carlini_wagner import CarliniWagnerL2
from bastion.attacks.evasion.fgsm import FGSM
from bastion.attacks.evasion.pgd import PGD

# Name -> class, for the CLI and the threat matrix.
ATTACKS = {"fgsm": FGSM, "pgd": PGD, "apgd": APGD, "cw": CarliniWagnerL2}

__all__ = ["APGD", "ATTACKS", "FGSM", "PGD", "CarliniWagnerL2"]
