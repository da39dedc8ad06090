"""Boundary shift ("model skewing"): injected points move the decision boundary into a class."""

from __future__ import annotations

import numpy as np

from bastion.attacks.poisoning.base import PoisonedDataset
from bastion.attacks.poisoning.checks import (
    check_class_argument,
    check_class_present,
    check_dataset,
    check_rate,
    poison_count,
)
from bastion.data.dataset import Dataset
from bastion.exceptions import ValidationError
from bastion.mixins import ParamsReprMixin
from bastion.models.representations import ReferenceTrainer
from bastion.validation import check_scalar, check_seed


class BoundaryShift(ParamsReprMixin):
    """Inject points on the source side of the source/target boundary, labelled as the target.

    Data injection that skews the model (the threat matrix's "model skewing"): for each
    injected point the attack draws a source-class sample ``x_s`` and a target-class sample
    ``x_t`` from the training set, finds on the segment between them where a reference model it
    trains itself starts to answer ``target_class`` (``t*``, on a grid of ``grid`` points), and
    places the point at ``t = (1 - depth) * t*``: between the boundary (``depth = 0``) and the
    source sample (``depth = 1``). A learner that fits these points moves its boundary into the
    source class; the other classes are left alone, so the damage shows in the source class's
    accuracy only (:func:`~bastion.attacks.poisoning.evaluate_poisoning` reports it per class).
    The injected rows are appended after the original ones.

    Args:
        rate: number of injected points as a fraction of the original training set, in (0, 1).
        source_class: the class whose region the boundary moves into.
        target_class: the label of the injected points.
        depth: how far from the boundary into the source class the points go, in [0, 1].
        grid: points tried along each segment to find the boundary.
        epochs: training epochs of the reference model.
        seed: seeds the pairs drawn and the reference model.

    Raises:
        ValidationError: ``rate`` outside (0, 1), ``source_class == target_class``, ``depth``
            outside [0, 1]; at ``poison`` time a class the dataset lacks or with no training rows.

    Example:
        >>> poisoned = BoundaryShift(0.1, source_class=3, target_class=8).poison(bastion.load("digits"))
    """

    def __init__(
        self,
        rate: float,
        *,
        source_class: int,
        target_class: int,
        depth: float = 0.5,
        grid: int = 32,
        epochs: int = 15,
        seed: int = 0,
    ) -> None:
        self.rate = check_rate(rate)
        if source_class is None or target_class is None:
            raise ValidationError(
                "`source_class` and `target_class` must both be class indices, "
                f"got {source_class!r} and {target_class!r}"
            )
        self.source_class = check_class_argument(source_class, "source_class")
        self.target_class = check_class_argument(target_class, "target_class")
        if self.source_class == self.target_class:
            raise ValidationError(f"`source_class` and `target_class` must differ, both are {self.source_class}")
        self.depth = check_scalar(depth, "depth", low=0, high=1)
        self.grid = check_scalar(grid, "grid", kind=int, low=2)
        self.epochs = check_scalar(epochs, "epochs", kind=int, low=1)
        self.seed = check_seed(seed)

    def poison(self, dataset: Dataset) -> PoisonedDataset:
        """Return the training set with the injected points appended, and their mask.

        Raises:
            InputTypeError: ``dataset`` is not a Dataset.
            ValidationError: see the class docstring.
        """
        dataset = check_dataset(dataset)
        check_class_present(dataset, self.source_class, "source_class")
        check_class_present(dataset, self.target_class, "target_class")
        x, y = dataset.x_train, dataset.y_train
        n = poison_count(self.rate, len(y))
        rng = np.random.default_rng(self.seed)
        # Every source sample once before any twice: the injected points cover the class evenly.
        source_rows = np.flatnonzero(y == self.source_class)
        laps = -(-n // source_rows.size)
        sources = x[np.concatenate([rng.permutation(source_rows) for _ in range(laps)])[:n]]
        targets = x[rng.choice(np.flatnonzero(y == self.target_class), size=n)]
        model = ReferenceTrainer(epochs=self.epochs, seed=self.seed).train_on(
            dataset, description="boundary shift: reference model"
        )
        ts = np.linspace(0.0, 1.0, self.grid, dtype=np.float32)
        shape = (1, *dataset.input_shape)
        # (n, grid, *input_shape): every segment sampled at once, one batched prediction.
        segments = sources[:, None] + ts.reshape(1, -1, *[1] * len(dataset.input_shape)) * (targets - sources)[:, None]
        answers = model.predict(segments.reshape(-1, *shape[1:])).reshape(n, self.grid) == self.target_class
        # The first grid point answered as the target; the segment's end when none is.
        first = np.where(answers.any(axis=1), answers.argmax(axis=1), self.grid - 1)
        t = ((1.0 - self.depth) * ts[first]).astype(np.float32)
        injected = sources + t.reshape(-1, *[1] * len(dataset.input_shape)) * (targets - sources)
        mask = np.concatenate([np.zeros(len(y), dtype=bool), np.ones(n, dtype=bool)])
        return PoisonedDataset.from_dataset(
            dataset,
            x_train=np.concatenate([x, injected.astype(np.float32)]),
            y_train=np.concatenate([y, np.full(n, self.target_class, dtype=np.int64)]),
            poison_mask=mask,
            attack=repr(self),
            target_class=self.target_class,
        )
