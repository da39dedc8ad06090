"""Defensive distillation (Papernot et al. 2016)."""

from __future__ import annotations

import time
from typing import Any

import torch

from bastion.defenses.base import ModuleFactory, build_module, check_dataset, check_module_factory
from bastion.exceptions import ValidationError
from bastion.mixins import FittedMixin, ParamsReprMixin
from bastion.models import TorchModel, fit
from bastion.models.base import check_clip
from bastion.validation import check_inputs, check_labels, check_scalar, check_seed


class DefensiveDistillation(FittedMixin, ParamsReprMixin):
    """Train a teacher at temperature T, a student on its soft labels at T, deploy at T = 1.

    Papernot, McDaniel, Wu, Jha & Swami, "Distillation as a Defense to Adversarial
    Perturbations against Deep Neural Networks", IEEE S&P 2016, Sec. IV-B (Fig. 5): the
    teacher's softmax is ``softmax(z / T)``; the training set is relabelled with the
    teacher's probabilities at ``T``; a student of the same architecture is trained on
    them at the same ``T``; at test time the student runs at ``T = 1``, i.e. its raw logits.

    Deployed at ``T = 1`` the student's logits are about ``T`` times larger than those it
    was trained on, so its softmax saturates and the cross-entropy gradient underflows to
    zero: attacks that follow that gradient (FGSM, PGD on cross-entropy, JSMA) stop
    working. That is gradient masking, not robustness: Carlini & Wagner, "Towards
    Evaluating the Robustness of Neural Networks", S&P 2017, break the distilled network
    with a logit-margin loss (100% success). :func:`bastion.attacks.robustness` reports both
    facts and flags the saturation.

    Args:
        temperature: the distillation temperature ``T > 0`` (20 in the paper's MNIST runs
            for the headline numbers; the paper sweeps 1 to 100).
        epochs: training epochs of the teacher.
        student_epochs: training epochs of the student (default: ``epochs``).
        lr, batch_size, weight_decay: Adam schedule of both networks
            (see :func:`bastion.models.fit`).
        clip: the valid input range of the data and of the returned model.
        progress: show progress bars.
        seed: seeds both trainings (the teacher with ``seed``, the student with ``seed + 1``).

    Attributes:
        teacher_: the teacher as a TorchModel (its logits at T = 1; divide by ``temperature``
            for the softmax it was trained with).
        model_: the deployed student, a TorchModel at T = 1.
        soft_labels_: the teacher's probabilities at ``T`` on the training inputs, ``(n, k)``.
        seconds_: wall-clock time of both trainings.

    Raises:
        ValidationError: ``temperature <= 0`` or another hyperparameter out of range.

    Example:
        >>> distiller = DefensiveDistillation(temperature=20, epochs=15)
        >>> student = distiller.fit(lambda: zoo.small_cnn((1, 8, 8), 10), bastion.load("digits")).model_
    """

    def __init__(
        self,
        *,
        temperature: float = 20.0,
        epochs: int = 10,
        student_epochs: int | None = None,
        lr: float = 1e-3,
        batch_size: int = 64,
        weight_decay: float = 0.0,
        clip: tuple[float, float] = (0.0, 1.0),
        progress: bool = True,
        seed: int = 0,
    ) -> None:
        self.temperature = check_scalar(temperature, "temperature", low=0, include_low=False)
        self.epochs = check_scalar(epochs, "epochs", kind=int, low=1)
        self.student_epochs = (
            self.epochs if student_epochs is None else check_scalar(student_epochs, "student_epochs", kind=int, low=1)
        )
        self.lr = check_scalar(lr, "lr", low=0, include_low=False)
        self.batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
        self.weight_decay = check_scalar(weight_decay, "weight_decay", low=0)
        self.clip = check_clip(clip)
        self.progress = bool(progress)
        self.seed = check_seed(seed)

    def fit(self, module_factory: ModuleFactory, dataset: Any) -> DefensiveDistillation:
        """Train the teacher and the student on ``dataset``'s training split.

        Args:
            module_factory: called twice without arguments, it returns a fresh torch module
                each time (teacher, then student; the paper uses one architecture for both),
                e.g. ``lambda: zoo.small_cnn((1, 8, 8), 10)``.
            dataset: a :class:`bastion.Dataset` whose inputs lie in ``clip``.

        Returns:
            ``self``; the distilled student at T = 1, a :class:`~bastion.models.TorchModel`,
            is ``model_``.

        Raises:
            InputTypeError: ``module_factory`` is not callable or does not return a torch
                module, or ``dataset`` is not a Dataset.
            ValidationError: the factory returned the same module twice, or the training
                inputs fall outside ``clip``.
        """
        check_module_factory(module_factory)
        check_dataset(dataset)
        x = check_inputs(dataset.x_train, "dataset.x_train", sample_shape=dataset.input_shape, value_range=self.clip)
        y = check_labels(dataset.y_train, "dataset.y_train", n_samples=len(x), n_classes=dataset.n_classes)
        started = time.perf_counter()
        teacher_module = build_module(module_factory, "teacher", dataset)
        schedule = {"lr": self.lr, "batch_size": self.batch_size, "weight_decay": self.weight_decay}
        fit(
            teacher_module,
            x,
            y,
            epochs=self.epochs,
            temperature=self.temperature,
            seed=self.seed,
            progress=self.progress,
            description=f"distillation teacher (T={self.temperature:g})",
            **schedule,
        )
        self.teacher_ = TorchModel(
            teacher_module, input_shape=dataset.input_shape, n_classes=dataset.n_classes, clip=self.clip
        )
        logits = torch.from_numpy(self.teacher_.logits(x))
        self.soft_labels_ = torch.softmax(logits / self.temperature, dim=1).numpy()

        student_module = build_module(module_factory, "student", dataset)
        if student_module is teacher_module:
            raise ValidationError("`module_factory` must return a new module on each call, got the same module twice")
        fit(
            student_module,
            x,
            self.soft_labels_,
            epochs=self.student_epochs,
            temperature=self.temperature,
            seed=(self.seed + 1) % 2**32,
            progress=self.progress,
            description=f"distillation student (T={self.temperature:g})",
            **schedule,
        )
        self.seconds_ = time.perf_counter() - started
        self.model_ = TorchModel(
            student_module, input_shape=dataset.input_shape, n_classes=dataset.n_classes, clip=self.clip
        )
        return self
