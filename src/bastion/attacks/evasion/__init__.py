"""Evasion attacks: adversarial examples at test time."""

from bastion.attacks.evasion.apgd import APGD
from bastion.attacks.evasion.apgd_targeted import APGDT
from bastion.attacks.evasion.base import EvasionAttack
from bastion.attacks.evasion.carlini_wagner import CarliniWagnerL2
from bastion.attacks.evasion.evaluation import EvasionResult, evaluate
from bastion.attacks.evasion.fab import FAB
from bastion.attacks.evasion.fgsm import FGSM
from bastion.attacks.evasion.hopskipjump import HopSkipJump
from bastion.attacks.evasion.pgd import PGD
from bastion.attacks.evasion.square import SquareAttack

# Name -> class, for the CLI and the threat matrix.
ATTACKS = {
    "fgsm": FGSM,
    "pgd": PGD,
    "apgd": APGD,
    "apgd-t": APGDT,
    "fab": FAB,
    "cw": CarliniWagnerL2,
    "square": SquareAttack,
    "hopskipjump": HopSkipJump,
}

__all__ = [
    "APGD",
    "APGDT",
    "ATTACKS",
    "FAB",
    "FGSM",
    "PGD",
    "CarliniWagnerL2",
    "EvasionAttack",
    "EvasionResult",
    "HopSkipJump",
    "SquareAttack",
    "evaluate",
]
