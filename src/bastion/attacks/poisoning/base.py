"""What every poisoning attack returns: the poisoned data and the ground truth of the poison.

A poisoning attack changes or adds training samples; the test split is left untouched so
that the damage can be measured on clean data. The ground truth (``poison_mask``: which
training rows the attacker changed or added) is what lets bastion score a sanitizer's
precision and recall.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.data.dataset import Dataset
from bastion.exceptions import InputTypeError, ValidationError
from bastion.mixins import ResultMixin
from bastion.validation import check_inputs


@dataclass(frozen=True, eq=False)
class Trigger(ResultMixin):
    """A backdoor trigger: ``x' = (1 - mask) * x + mask * pattern``, per sample.

    One form covers the BadNets patch (Gu et al. 2017: ``mask`` is 1 on the patch, 0
    elsewhere), the blended trigger (Chen et al. 2017: ``mask`` is ``alpha`` everywhere) and a
    fixed feature pattern on tabular data.

    Attributes:
        mask: ``input_shape`` float32 in [0, 1], how much of the pattern replaces the input.
        pattern: ``input_shape`` float32, the trigger's values.
    """

    mask: np.ndarray
    pattern: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Stamp the trigger on a batch ``(n, *input_shape)``; returns float32."""
        x = check_inputs(x, "x", sample_shape=self.mask.shape)
        return ((1.0 - self.mask) * x + self.mask * self.pattern).astype(np.float32)


@dataclass(frozen=True, eq=False)
class PoisonedDataset(Dataset):
    """A :class:`~bastion.data.Dataset` whose training split an attacker changed.

    Attributes (beyond the Dataset's):
        poison_mask: ``(len(x_train),)`` bool, True for the rows the attacker changed or added.
        attack: the attack's repr (class and hyperparameters).
        target_class: for targeted attacks and backdoors, the class the attacker wants;
            ``None`` otherwise.
        trigger: for backdoors, the :class:`Trigger`; ``None`` otherwise.
    """

    poison_mask: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=bool))
    attack: str = ""
    target_class: int | None = None
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        mask = np.asarray(self.poison_mask)
        if mask.dtype != bool or mask.shape != (len(self.x_train),):
            raise ValidationError(
                f"`poison_mask` must be a bool array of shape ({len(self.x_train)},), "
                f"got dtype {mask.dtype} and shape {mask.shape}"
            )

    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset,
        *,
        poison_mask: np.ndarray,
        attack: str,
        x_train: np.ndarray | None = None,
        y_train: np.ndarray | None = None,
        target_class: int | None = None,
        trigger: Trigger | None = None,
    ) -> PoisonedDataset:
        """``dataset`` with a new training split (``None`` keeps the old arrays) and its poison's ground truth."""
        fields = {f.name: getattr(dataset, f.name) for f in dataclasses.fields(Dataset)}
        if x_train is not None:
            fields["x_train"] = np.ascontiguousarray(x_train, dtype=np.float32)
        if y_train is not None:
            fields["y_train"] = np.asarray(y_train, dtype=np.int64)
        return cls(**fields, poison_mask=poison_mask, attack=attack, target_class=target_class, trigger=trigger)

    @property
    def n_poison(self) -> int:
        """How many training rows are poison."""
        return int(self.poison_mask.sum())

    def apply_trigger(self, x: np.ndarray) -> np.ndarray:
        """Stamp the backdoor trigger on ``x`` to measure attack success at test time.

        Raises:
            InputTypeError: the dataset was not poisoned by a backdoor.
        """
        if self.trigger is None:
            raise InputTypeError(f"`apply_trigger` needs a backdoor-poisoned dataset; {self.attack} set no trigger")
        return self.trigger.apply(x)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: sizes, the attack, the poison count (not the arrays)."""
        return {
            "name": self.name,
            "n_train": len(self.x_train),
            "n_test": len(self.x_test),
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
            "n_poison": self.n_poison,
            "attack": self.attack,
            "target_class": self.target_class,
            "backdoor": self.trigger is not None,
        }
