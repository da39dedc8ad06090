"""Attacks across the threat matrix: evasion, extraction, inference, poisoning.

Each family keeps its base class and its evaluation inside its subpackage
(``bastion.attacks.evasion.base``, ``bastion.attacks.extraction.base``,
``bastion.attacks.inference.base``); evasion attacks and their evaluation are re-exported
here: ``from bastion.attacks import PGD, evaluate, robustness``.
"""

from bastion.attacks.evasion import APGD, APGDT, FAB, FGSM, PGD, CarliniWagnerL2, HopSkipJump, SquareAttack
from bastion.attacks.evasion.base import EvasionAttack
from bastion.attacks.evasion.evaluation import EvasionResult, evaluate
from bastion.attacks.evasion.robustness import AttackRecord, RobustnessFinding, RobustnessResult, robustness
from bastion.attacks.extraction import (
    DecisionTreePathFinding,
    EquationSolving,
    ExtractionResult,
    JacobianAugmentation,
    KnockoffNets,
)

__all__ = [
    "APGD",
    "APGDT",
    "FAB",
    "FGSM",
    "PGD",
    "AttackRecord",
    "CarliniWagnerL2",
    "DecisionTreePathFinding",
    "EquationSolving",
    "EvasionAttack",
    "EvasionResult",
    "ExtractionResult",
    "HopSkipJump",
    "JacobianAugmentation",
    "KnockoffNets",
    "RobustnessFinding",
    "RobustnessResult",
    "SquareAttack",
    "evaluate",
    "robustness",
]
