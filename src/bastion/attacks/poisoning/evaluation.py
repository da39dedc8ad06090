"""Scoring a poisoning attack: train on the poisoned data, measure on the clean test split."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.attacks.poisoning.base import PoisonedDataset
from bastion.data.dataset import Dataset
from bastion.exceptions import InputTypeError, ValidationError
from bastion.mixins import ResultMixin


@dataclass(frozen=True, eq=False)
class PoisoningResult(ResultMixin):
    """What a model trained on poisoned data does on the clean test split.

    Attributes:
        attack: the attack's repr (empty for unpoisoned data).
        n_train: training rows the model saw.
        n_poison: of which poison (0 when the data carries no mask).
        test_accuracy: accuracy on the clean test split, in [0, 1].
        per_class_accuracy: test accuracy of each class, in [0, 1] (NaN for a class absent
            from the test split).
        clean_test_accuracy: the same for a model trained on ``clean``; ``None`` without it.
        clean_per_class_accuracy: per class, for the model trained on ``clean``.
        accuracy_drop: ``clean_test_accuracy - test_accuracy`` (points of accuracy as a
            fraction); ``None`` without ``clean``.
        attack_success_rate: backdoors only: the share of non-target test inputs classified as
            the target class once triggered; ``None`` for other attacks.
        clean_attack_success_rate: the same trigger against the model trained on ``clean``
            (what the trigger does without the backdoor); ``None`` without ``clean`` or trigger.
        target_class: the attack's target, if any.
        seconds: wall-clock time of the training(s) and the measurements.
    """

    attack: str
    n_train: int
    n_poison: int
    test_accuracy: float
    per_class_accuracy: tuple[float, ...]
    clean_test_accuracy: float | None
    clean_per_class_accuracy: tuple[float, ...] | None
    accuracy_drop: float | None
    attack_success_rate: float | None
    clean_attack_success_rate: float | None
    target_class: int | None
    seconds: float


def _per_class(predictions: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[float, ...]:
    correct = np.bincount(y, weights=(predictions == y).astype(np.float64), minlength=n_classes)
    total = np.bincount(y, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return tuple(float(v) for v in np.where(total > 0, correct / np.maximum(total, 1), np.nan))


def _train(train_fn: Callable[[Dataset], Any], dataset: Dataset, which: str) -> Any:
    model = train_fn(dataset)
    if not hasattr(model, "predict"):
        raise InputTypeError(
            f"`train_fn` must return a bastion Model with predict(), got {type(model).__name__} for the {which} data"
        )
    return model


def evaluate_poisoning(
    poisoned: Dataset,
    train_fn: Callable[[Dataset], Any],
    *,
    clean: Dataset | None = None,
) -> PoisoningResult:
    """Train on ``poisoned`` (and ``clean``) with ``train_fn``; measure the damage on the test split.

    Args:
        poisoned: the training data to score, usually a :class:`PoisonedDataset` (a sanitizer's
            cleaned output stays one); a plain Dataset is scored as unpoisoned.
        train_fn: ``train_fn(dataset) -> Model``, e.g. ``bastion.models.fit`` on a zoo network
            wrapped in a ``TorchModel``; called once per dataset.
        clean: the data before the attack, for the accuracy drop and the trigger's baseline.
            Its test split must match ``poisoned``'s.

    Returns:
        A :class:`PoisoningResult`.

    Raises:
        InputTypeError: ``poisoned`` or ``clean`` is not a Dataset, ``train_fn`` is not callable
            or returns no Model.
        ValidationError: ``clean`` has a different test split.
    """
    if not isinstance(poisoned, Dataset):
        raise InputTypeError(f"`poisoned` must be a bastion Dataset, got {type(poisoned).__name__}")
    if clean is not None and not isinstance(clean, Dataset):
        raise InputTypeError(f"`clean` must be a bastion Dataset or None, got {type(clean).__name__}")
    if not callable(train_fn):
        raise InputTypeError(f"`train_fn` must be a callable dataset -> Model, got {type(train_fn).__name__}")
    if clean is not None and (
        clean.x_test.shape != poisoned.x_test.shape or not np.array_equal(clean.y_test, poisoned.y_test)
    ):
        raise ValidationError("`clean` must share `poisoned`'s test split (the attack leaves it untouched)")
    started = time.perf_counter()
    is_poisoned = isinstance(poisoned, PoisonedDataset)
    trigger = poisoned.trigger if is_poisoned else None
    target = poisoned.target_class if is_poisoned else None
    x_test, y_test, k = poisoned.x_test, poisoned.y_test, poisoned.n_classes

    def measure(model: Any) -> tuple[float, tuple[float, ...], float | None]:
        predictions = np.asarray(model.predict(x_test))
        success = None
        if trigger is not None and target is not None:
            others = y_test != target
            if others.any():
                triggered = np.asarray(model.predict(trigger.apply(x_test[others])))
                success = float((triggered == target).mean())
            else:
                success = 0.0
        return float((predictions == y_test).mean()), _per_class(predictions, y_test, k), success

    accuracy, per_class, success = measure(_train(train_fn, poisoned, "poisoned"))
    clean_accuracy = clean_per_class = clean_success = None
    if clean is not None:
        clean_accuracy, clean_per_class, clean_success = measure(_train(train_fn, clean, "clean"))
    return PoisoningResult(
        attack=poisoned.attack if is_poisoned else "",
        n_train=len(poisoned.x_train),
        n_poison=poisoned.n_poison if is_poisoned else 0,
        test_accuracy=accuracy,
        per_class_accuracy=per_class,
        clean_test_accuracy=clean_accuracy,
        clean_per_class_accuracy=clean_per_class,
        accuracy_drop=None if clean_accuracy is None else clean_accuracy - accuracy,
        attack_success_rate=success,
        clean_attack_success_rate=clean_success,
        target_class=target,
        seconds=time.perf_counter() - started,
    )
