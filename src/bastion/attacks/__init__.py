"""Attacks across the threat matrix: evasion, extraction, inference, poisoning.

Evasion attacks and their evaluation are re-exported here:
``from bastion.attacks import PGD, evaluate``.
"""

from bastion.attacks.base import EvasionAttack
from bastion.attacks.evaluation import EvasionResult, evaluate
from bastion.attacks.evasion import APGD, APGDT, FAB, FGSM, PGD, CarliniWagnerL2, HopSkipJump, SquareAttack
from bastion.attacks.extraction import (
    DecisionTreePathFinding,
    EquationSolving,
    ExtractionResult,
    JacobianAugmentation,
    KnockoffNets,
)
from bastion.attacks.robustness import AttackRecord, RobustnessFinding, RobustnessResult, robustness

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
