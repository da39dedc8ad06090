"""Poisoning attacks: the attacker changes or adds training data.

Each attack is ``poison(dataset) -> PoisonedDataset``: the poisoned data plus the ground
truth of which rows are poison, so that sanitizers can be scored;
:func:`evaluate_poisoning` trains on it and measures the damage.
"""

from bastion.attacks.poisoning.backdoor import Backdoor
from bastion.attacks.poisoning.base import PoisonedDataset, Trigger
from bastion.attacks.poisoning.boundary_shift import BoundaryShift
from bastion.attacks.poisoning.evaluation import PoisoningResult, evaluate_poisoning
from bastion.attacks.poisoning.files import load_dataset, save_dataset
from bastion.attacks.poisoning.gradient_poisoning import GradientPoisoning
from bastion.attacks.poisoning.label_flip import LabelFlip

__all__ = [
    "Backdoor",
    "BoundaryShift",
    "GradientPoisoning",
    "LabelFlip",
    "PoisonedDataset",
    "PoisoningResult",
    "Trigger",
    "evaluate_poisoning",
    "load_dataset",
    "save_dataset",
]
