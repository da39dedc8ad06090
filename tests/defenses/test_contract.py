"""The contract every defense that trains a model keeps (scikit-learn's ``fit`` convention).

Each registered defense trains a tiny MLP for one epoch on 256 digits:

- ``fit(module_factory, dataset)`` returns the defense; the hardened model is ``model_``, a
  Model of the dataset's shape and classes; learned state read before ``fit`` raises
  ``NotFittedError``;
- the same seed gives the same weights;
- a module instead of a factory, a non-Dataset and inputs outside ``clip`` are refused
  naming the argument.

PATE follows the same rule in steps (``fit`` then ``fit_student``), checked at the end.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import bastion
from bastion.defenses import PATE, AdversarialTraining, DefensiveDistillation
from bastion.defenses.pate import GNMax
from bastion.exceptions import InputTypeError, NotFittedError, ValidationError
from bastion.models import Model, zoo

DEFENSES = {
    "adversarial_training": lambda seed: AdversarialTraining(
        method="fgsm_rs", eps=0.1, epochs=1, monitor_size=0, progress=False, seed=seed
    ),
    "distillation": lambda seed: DefensiveDistillation(epochs=1, progress=False, seed=seed),
}
NAMES = sorted(DEFENSES)


def factory(dataset):
    return lambda: zoo.mlp(dataset.input_shape, dataset.n_classes, hidden=(8,), seed=0)


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_the_defense_with_the_hardened_model_in_model_(name, small_digits):
    defense = DEFENSES[name](0)

    assert defense.fit(factory(small_digits), small_digits) is defense
    assert isinstance(defense.model_, Model)
    assert defense.model_.n_classes == small_digits.n_classes
    assert defense.model_.predict(small_digits.x_test).shape == small_digits.y_test.shape


@pytest.mark.parametrize("name", NAMES)
def test_learned_state_before_fit_raises_not_fitted(name):
    defense = DEFENSES[name](0)

    with pytest.raises(NotFittedError, match="`model_` exists after fit"):
        defense.model_  # noqa: B018
    assert not hasattr(defense, "model_")


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_weights(name, small_digits):
    first, again = (DEFENSES[name](4).fit(factory(small_digits), small_digits).model_ for _ in range(2))

    for a, b in zip(first.module.parameters(), again.module.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_are_refused_naming_the_argument(name, small_digits):
    defense = DEFENSES[name](0)
    outside = bastion.Dataset.from_arrays(
        small_digits.x_train * 2 + 1, small_digits.y_train, small_digits.x_test, small_digits.y_test, name="shifted"
    )

    with pytest.raises(InputTypeError, match="`module_factory` must be a callable"):
        defense.fit(factory(small_digits)(), small_digits)
    with pytest.raises(InputTypeError, match="`dataset` must be a bastion Dataset"):
        defense.fit(factory(small_digits), (small_digits.x_train, small_digits.y_train))
    with pytest.raises(ValidationError, match=r"`dataset\.x_train`"):
        defense.fit(factory(small_digits), outside)


def test_repr_shows_the_hyperparameters_not_the_learned_state(small_digits):
    defense = DEFENSES["distillation"](0).fit(factory(small_digits), small_digits)

    assert repr(defense).startswith("DefensiveDistillation(temperature=20.0, epochs=1")
    assert "model_" not in repr(defense)


def test_pate_follows_the_same_rule_in_steps(breast_cancer):
    pate = PATE(
        teacher_factory=LogisticRegression(max_iter=200),
        n_teachers=4,
        aggregator=GNMax(1.0),
        backend="serial",
        progress=False,
    )
    with pytest.raises(NotFittedError):
        pate.model_  # noqa: B018

    assert pate.fit(breast_cancer.x_train, breast_cancer.y_train) is pate
    labeling = pate.label(breast_cancer.x_test[:40], smooth_sensitivity=False)
    assert pate.fit_student(LogisticRegression(max_iter=200), breast_cancer.x_test[:40], labeling=labeling) is pate
    assert np.mean(pate.model_.predict(breast_cancer.x_test[40:]) == breast_cancer.y_test[40:]) > 0.7
