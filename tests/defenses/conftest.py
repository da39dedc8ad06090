"""Fixtures of the defense tests: a short PGD adversarial training and a distillation, once per session."""

from __future__ import annotations

import pytest

import bastion
from bastion.defenses import AdversarialTraining, DefensiveDistillation
from bastion.models import zoo


@pytest.fixture(scope="session")
def pgd_trainer(digits) -> AdversarialTraining:
    """PGD-3 adversarial training of a 64-unit MLP on digits at eps = 0.2, 8 epochs (fitted).

    Compare it with the undefended ``digits_mlp`` of the same architecture.
    """
    trainer = AdversarialTraining(method="pgd", eps=0.2, steps=3, epochs=8, lr=3e-3, progress=False, seed=0)
    trainer.fit(lambda: zoo.mlp(digits.input_shape, digits.n_classes, hidden=(64,), seed=0), digits)
    return trainer


@pytest.fixture(scope="session")
def distiller(digits) -> DefensiveDistillation:
    """Defensive distillation of small_cnn on digits at T = 20, 8 epochs each (fitted)."""
    distiller = DefensiveDistillation(temperature=20, epochs=8, lr=3e-3, progress=False, seed=0)
    distiller.fit(lambda: zoo.small_cnn(digits.input_shape, digits.n_classes, seed=0), digits)
    return distiller


@pytest.fixture(scope="session")
def small_digits(digits) -> bastion.Dataset:
    """The first 256 training and 64 test digits, for trainings that only need to run."""
    return bastion.Dataset.from_arrays(
        digits.x_train[:256], digits.y_train[:256], digits.x_test[:64], digits.y_test[:64], name="digits[:256]"
    )
