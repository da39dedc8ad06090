"""Defenses: harden a model or clean its data."""

from bastion.defenses.adversarial_training import AdversarialTraining, CatastrophicOverfittingWarning, EpochRecord
from bastion.defenses.distillation import DefensiveDistillation
from bastion.defenses.micromodels import MicroModels
from bastion.defenses.pate import PATE
from bastion.defenses.prada import PRADA, PRADAStatus

__all__ = [
    "PATE",
    "PRADA",
    "AdversarialTraining",
    "CatastrophicOverfittingWarning",
    "DefensiveDistillation",
    "EpochRecord",
    "MicroModels",
    "PRADAStatus",
]
