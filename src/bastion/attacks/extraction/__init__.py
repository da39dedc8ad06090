"""Extraction attacks: steal a model through its prediction API, within a query budget.

Every attack is one class (its ``seed`` in ``__init__``) with
``extract(model, *, budget) -> ExtractionResult``
and works on any black-box bastion Model (see :mod:`bastion.attacks.extraction.base` for
the budget guard and how fidelity is measured off the attacker's budget).
"""

from bastion.attacks.extraction.base import ExtractionAttack, ExtractionResult, QueryBudget
from bastion.attacks.extraction.equation_solving import EquationSolving
from bastion.attacks.extraction.jacobian_augmentation import JacobianAugmentation, JacobianResult
from bastion.attacks.extraction.knockoff import KnockoffNets, pixel_shifts
from bastion.attacks.extraction.path_finding import DecisionTreePathFinding, TreeBoxes

__all__ = [
    "DecisionTreePathFinding",
    "EquationSolving",
    "ExtractionAttack",
    "ExtractionResult",
    "JacobianAugmentation",
    "JacobianResult",
    "KnockoffNets",
    "QueryBudget",
    "TreeBoxes",
    "pixel_shifts",
]
