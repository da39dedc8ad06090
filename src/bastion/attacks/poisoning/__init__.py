"""Poisoning attacks: the attacker changes or adds training data.

Each attack is ``poison(dataset) -> PoisonedDataset``: the poisoned data plus the ground
truth of which rows are poison, so that sanitizers can be scored.
"""

from bastion.attacks.poisoning.base import PoisonedDataset, Trigger

__all__ = ["PoisonedDataset", "Trigger"]
