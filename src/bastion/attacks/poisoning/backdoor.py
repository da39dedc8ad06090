"""Backdoors: a trigger stamped on poisoned training samples teaches the model a shortcut."""

from __future__ import annotations

import numpy as np

from bastion.attacks.evasion.pgd import PGD
from bastion.attacks.poisoning.base import PoisonedDataset, Trigger
from bastion.attacks.poisoning.checks import (
    check_class_argument,
    check_class_present,
    check_dataset,
    check_enough,
    check_rate,
    poison_count,
)
from bastion.data.dataset import Dataset
from bastion.exceptions import InputTypeError, ValidationError
from bastion.mixins import ParamsReprMixin
from bastion.models.representations import ReferenceTrainer, data_range
from bastion.validation import check_choice, check_scalar, check_seed

TRIGGERS = ("patch", "blend")
LOCATIONS = ("bottom_right", "bottom_left", "top_right", "top_left")


def _is_image(input_shape: tuple[int, ...]) -> bool:
    return len(input_shape) == 3


class Backdoor(ParamsReprMixin):
    """Stamp a trigger on a fraction of the training set and label it ``target_class``.

    - ``trigger="patch"``: BadNets (Gu, Dolan-Gavitt & Garg, "BadNets: Identifying
      Vulnerabilities in the Machine Learning Model Supply Chain", 2017, Sec. 3): a
      ``patch_size x patch_size`` square at the maximum of the data range in a corner of every
      channel of an image ``(c, h, w)``; on flat or other-shaped input, ``patch_size`` features
      (the last ones for a right-hand ``location``, the first for a left-hand one) set to the
      maximum.
    - ``trigger="blend"``: Chen, Liu, Li, Lu & Song, "Targeted Backdoor Attacks on Deep
      Learning Systems Using Data Poisoning", 2017, Sec. 4.2 (blended injection):
      ``x' = (1 - alpha) x + alpha * pattern`` with a seeded uniform-noise pattern over the
      whole input.
    - ``clean_label=True``: Turner, Tsipras & Madry, "Label-Consistent Backdoor Attacks",
      2019, Sec. 4: only target-class samples are poisoned and their labels are kept, so a
      defense that checks labels sees nothing wrong. Each is first pushed away from its class
      by bastion's :class:`~bastion.attacks.evasion.PGD` (``eps``, ``pgd_steps``) against a
      model the attacker trains, so the model cannot fit it from its content and learns the
      trigger instead.

    Dirty-label poisoning (the default) stamps samples of the other classes and relabels them.
    Training rows are replaced, not added: the training set keeps its size.

    Args:
        rate: fraction of the training set to poison, in (0, 1).
        target_class: the class a triggered input should be classified as.
        trigger: ``"patch"`` or ``"blend"``.
        patch_size: side of the square patch (images) or number of features (flat input).
        location: the patch's corner, one of ``bottom_right``, ``bottom_left``, ``top_right``,
            ``top_left``.
        blend_alpha: weight of the blended pattern, in (0, 1].
        clean_label: poison target-class samples only, labels unchanged.
        eps: L-inf budget of the clean-label PGD perturbation, as a fraction of the data range.
        pgd_steps: PGD iterations of the clean-label perturbation.
        epochs: training epochs of the attacker's model (clean-label only).
        seed: seeds the row choice, the blend pattern, PGD and the attacker's model.

    Raises:
        ValidationError: ``rate`` outside (0, 1), an unknown trigger or location, a bad
            ``blend_alpha``; at ``poison`` time a missing target class, a patch that does not
            fit the input shape, or (clean-label) a rate needing more target-class rows than exist.

    Example:
        >>> poisoned = Backdoor(0.05, target_class=0).poison(bastion.load("digits"))
        >>> poisoned.apply_trigger(poisoned.x_test[:5]).shape
        (5, 1, 8, 8)
    """

    def __init__(
        self,
        rate: float,
        *,
        target_class: int,
        trigger: str = "patch",
        patch_size: int = 2,
        location: str = "bottom_right",
        blend_alpha: float = 0.2,
        clean_label: bool = False,
        eps: float = 0.3,
        pgd_steps: int = 20,
        epochs: int = 15,
        seed: int = 0,
    ) -> None:
        self.rate = check_rate(rate)
        if target_class is None:
            raise ValidationError("`target_class` must be a class index, got None")
        self.target_class = check_class_argument(target_class, "target_class")
        self.trigger = check_choice(trigger, "trigger", TRIGGERS)
        self.patch_size = check_scalar(patch_size, "patch_size", kind=int, low=1)
        self.location = check_choice(location, "location", LOCATIONS)
        self.blend_alpha = check_scalar(blend_alpha, "blend_alpha", low=0, high=1, include_low=False)
        if not isinstance(clean_label, bool):
            raise InputTypeError(f"`clean_label` must be a bool, got {clean_label!r}")
        self.clean_label = clean_label
        self.eps = check_scalar(eps, "eps", low=0, high=1)
        self.pgd_steps = check_scalar(pgd_steps, "pgd_steps", kind=int, low=1)
        self.epochs = check_scalar(epochs, "epochs", kind=int, low=1)
        self.seed = check_seed(seed)

    def make_trigger(self, input_shape: tuple[int, ...], value_range: tuple[float, float]) -> Trigger:
        """The trigger for samples of ``input_shape`` whose values lie in ``value_range``.

        Raises:
            ValidationError: the patch does not fit ``input_shape``.
        """
        input_shape = tuple(input_shape)
        low, high = value_range
        mask = np.zeros(input_shape, dtype=np.float32)
        if self.trigger == "blend":
            rng = np.random.default_rng(self.seed)
            pattern = rng.uniform(low, high, size=input_shape).astype(np.float32)
            return Trigger(mask=mask + np.float32(self.blend_alpha), pattern=pattern)
        size = self.patch_size
        bottom, right = self.location.startswith("bottom"), self.location.endswith("right")
        if _is_image(input_shape):
            _, h, w = input_shape
            if size > h or size > w:
                raise ValidationError(
                    f"`patch_size` {size} does not fit images of shape {input_shape} (height {h}, width {w})"
                )
            rows = slice(h - size, h) if bottom else slice(0, size)
            cols = slice(w - size, w) if right else slice(0, size)
            mask[:, rows, cols] = 1.0
        else:
            flat = mask.reshape(-1)
            if size > flat.size:
                raise ValidationError(
                    f"`patch_size` {size} does not fit samples of shape {input_shape} ({flat.size} features)"
                )
            if right:
                flat[flat.size - size :] = 1.0
            else:
                flat[:size] = 1.0
        return Trigger(mask=mask, pattern=np.full(input_shape, high, dtype=np.float32))

    def poison(self, dataset: Dataset) -> PoisonedDataset:
        """Return the poisoned dataset, its mask and the trigger (``apply_trigger`` for test time).

        Raises:
            InputTypeError: ``dataset`` is not a Dataset.
            ValidationError: see the class docstring.
        """
        dataset = check_dataset(dataset)
        check_class_present(dataset, self.target_class, "target_class")
        value_range = data_range(dataset.x_train)
        trigger = self.make_trigger(dataset.input_shape, value_range)
        y = dataset.y_train
        n = poison_count(self.rate, len(y))
        if self.clean_label:
            eligible = np.flatnonzero(y == self.target_class)
            check_enough(eligible.size, n, f"target_class {self.target_class} (clean-label poisons only those)")
        else:
            eligible = np.flatnonzero(y != self.target_class)
            check_enough(eligible.size, n, f"classes other than target_class {self.target_class}")
        rows = np.sort(np.random.default_rng(self.seed).choice(eligible, size=n, replace=False))
        x_rows = dataset.x_train[rows]
        if self.clean_label:
            x_rows = self._hard_to_learn(dataset, x_rows, value_range)
        x_poisoned = dataset.x_train.copy()
        x_poisoned[rows] = trigger.apply(x_rows)
        y_poisoned = y.copy()
        y_poisoned[rows] = self.target_class
        mask = np.zeros(len(y), dtype=bool)
        mask[rows] = True
        return PoisonedDataset.from_dataset(
            dataset,
            x_train=x_poisoned,
            y_train=y_poisoned,
            poison_mask=mask,
            attack=repr(self),
            target_class=self.target_class,
            trigger=trigger,
        )

    def _hard_to_learn(self, dataset: Dataset, x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
        model = ReferenceTrainer(epochs=self.epochs, seed=self.seed).train_on(
            dataset, description="clean-label backdoor: attacker's model"
        )
        eps = self.eps * (value_range[1] - value_range[0])
        if eps == 0:
            return x
        attack = PGD(eps, steps=self.pgd_steps, seed=self.seed)
        return attack.generate(model, x, np.full(len(x), self.target_class, dtype=np.int64))
