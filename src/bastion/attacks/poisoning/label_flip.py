"""Label flipping: the attacker changes the labels of part of the training set."""

from __future__ import annotations

import numpy as np

from bastion.attacks.poisoning.base import PoisonedDataset
from bastion.attacks.poisoning.checks import (
    check_class_argument,
    check_class_present,
    check_dataset,
    check_enough,
    check_rate,
    poison_count,
)
from bastion.data.dataset import Dataset
from bastion.exceptions import ValidationError
from bastion.mixins import ParamsReprMixin
from bastion.models.representations import ReferenceTrainer
from bastion.validation import check_choice, check_scalar, check_seed

STRATEGIES = ("random", "targeted", "boundary")


class LabelFlip(ParamsReprMixin):
    """Flip the labels of a fraction of the training rows (data manipulation).

    Strategies:
        - ``"random"``: rows drawn uniformly (from ``source_class`` when given), each given
          ``target_class`` or else a uniformly drawn other class (the label-noise baseline).
        - ``"targeted"``: rows of ``source_class`` (any class but the target when ``None``)
          relabelled ``target_class``.
        - ``"boundary"``: the rows closest to the decision boundary of a reference model the
          attack trains itself (smallest logit margin between the true class and the runner-up),
          relabelled as the runner-up (or ``target_class``). Flips concentrated where the learner
          is least certain move its boundary most for a given budget; Xiao, Xiao & Eckert,
          "Adversarial Label Flips Attack on Support Vector Machines", ECAI 2012, choose flips by
          the loss they cause, which this margin heuristic approximates without the SVM's
          optimisation.

    Args:
        rate: fraction of the training set to flip, in (0, 1).
        strategy: ``"random"``, ``"targeted"`` or ``"boundary"``.
        source_class: restrict the flipped rows to this class.
        target_class: the label the flipped rows receive (required for ``"targeted"``).
        epochs: training epochs of the reference model (``"boundary"`` only).
        seed: seeds the row choice, the new labels and the reference model.

    Raises:
        ValidationError: ``rate`` outside (0, 1), an unknown strategy, ``"targeted"`` without
            ``target_class``, ``source_class == target_class``; at ``poison`` time a class the
            dataset does not have or that has no training rows, or a rate that needs more rows
            than the source holds.

    Example:
        >>> poisoned = LabelFlip(0.2, strategy="random").poison(bastion.load("digits"))
    """

    def __init__(
        self,
        rate: float,
        *,
        strategy: str = "random",
        source_class: int | None = None,
        target_class: int | None = None,
        epochs: int = 10,
        seed: int = 0,
    ) -> None:
        self.rate = check_rate(rate)
        self.strategy = check_choice(strategy, "strategy", STRATEGIES)
        self.source_class = check_class_argument(source_class, "source_class")
        self.target_class = check_class_argument(target_class, "target_class")
        if self.strategy == "targeted" and self.target_class is None:
            raise ValidationError("`target_class` must be given for strategy='targeted', got None")
        if self.source_class is not None and self.source_class == self.target_class:
            raise ValidationError(f"`source_class` and `target_class` must differ, both are {self.source_class}")
        self.epochs = check_scalar(epochs, "epochs", kind=int, low=1)
        self.seed = check_seed(seed)

    def poison(self, dataset: Dataset) -> PoisonedDataset:
        """Return the dataset with flipped training labels and the mask of flipped rows.

        Raises:
            InputTypeError: ``dataset`` is not a Dataset.
            ValidationError: see the class docstring.
        """
        dataset = check_dataset(dataset)
        check_class_present(dataset, self.source_class, "source_class")
        check_class_present(dataset, self.target_class, "target_class")
        y = dataset.y_train
        rng = np.random.default_rng(self.seed)
        if self.source_class is not None:
            eligible = y == self.source_class
            what = f"source_class {self.source_class}"
        elif self.target_class is not None:
            eligible = y != self.target_class
            what = f"classes other than target_class {self.target_class}"
        else:
            eligible = np.ones(len(y), dtype=bool)
            what = "the training set"
        n = poison_count(self.rate, len(y))
        check_enough(int(eligible.sum()), n, what)
        candidates = np.flatnonzero(eligible)

        if self.strategy == "boundary":
            model = ReferenceTrainer(epochs=self.epochs, seed=self.seed).train_on(
                dataset, description="label flip: reference model"
            )
            logits = model.logits(dataset.x_train[candidates]).astype(np.float64)
            true = logits[np.arange(len(candidates)), y[candidates]]
            others = logits.copy()
            others[np.arange(len(candidates)), y[candidates]] = -np.inf
            runner_up = others.argmax(axis=1)
            margin = true - others.max(axis=1)
            order = np.argsort(margin, kind="stable")[:n]
            rows = candidates[order]
            new = runner_up[order] if self.target_class is None else np.full(n, self.target_class)
        else:
            rows = rng.choice(candidates, size=n, replace=False)
            if self.target_class is not None:
                new = np.full(n, self.target_class)
            else:
                # A uniform draw among the k - 1 other classes: shift by 1..k-1 modulo k.
                shift = rng.integers(1, dataset.n_classes, size=n)
                new = (y[rows] + shift) % dataset.n_classes

        y_poisoned = y.copy()
        y_poisoned[rows] = new
        mask = np.zeros(len(y), dtype=bool)
        mask[rows] = True
        return PoisonedDataset.from_dataset(
            dataset, y_train=y_poisoned, poison_mask=mask, attack=repr(self), target_class=self.target_class
        )
