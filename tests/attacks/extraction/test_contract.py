"""The contract every extraction attack keeps, checked on each one with the same cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from bastion.attacks.extraction import (
    DecisionTreePathFinding,
    EquationSolving,
    ExtractionResult,
    JacobianAugmentation,
    KnockoffNets,
)
from bastion.exceptions import ValidationError
from bastion.models import LeafIdentity, SklearnModel

ATTACKS = ("equation-solving", "knockoff", "jacobian", "path-finding")


@pytest.fixture(scope="module")
def cancer_tree(breast_cancer) -> LeafIdentity:
    estimator = DecisionTreeClassifier(max_depth=3, random_state=0).fit(breast_cancer.x_train, breast_cancer.y_train)
    return LeafIdentity(SklearnModel(estimator))


def case(name, breast_cancer, breast_cancer_logistic, cancer_tree, *, seed=0):
    """``(attack, target, budget)`` for one attack against a breast_cancer model."""
    pool = breast_cancer.x_train[:120]
    return {
        "equation-solving": (EquationSolving(seed=seed), breast_cancer_logistic, 45),
        "knockoff": (
            KnockoffNets(pool, sampling="adaptive", epochs=3, round_size=16, seed=seed),
            breast_cancer_logistic,
            45,
        ),
        "jacobian": (JacobianAugmentation(pool[:20], rounds=2, epochs=3, seed=seed), breast_cancer_logistic, 45),
        "path-finding": (DecisionTreePathFinding(seed=seed), cancer_tree, 200),
    }[name]


@pytest.mark.parametrize("name", ATTACKS)
def test_queries_used_come_from_the_target_and_stay_within_budget(
    name, breast_cancer, breast_cancer_logistic, cancer_tree
):
    attack, target, budget = case(name, breast_cancer, breast_cancer_logistic, cancer_tree)
    before = target.queries
    result = attack.extract(target, budget=budget, x_eval=breast_cancer.x_test, y_eval=breast_cancer.y_test)
    assert isinstance(result, ExtractionResult)
    assert result.queries_used == target.queries - before <= budget
    assert 0.0 <= result.fidelity <= 1.0
    assert result.stolen.predict(breast_cancer.x_test).shape == breast_cancer.y_test.shape


@pytest.mark.parametrize("name", ATTACKS)
def test_same_seed_same_stolen_model(name, breast_cancer, breast_cancer_logistic, cancer_tree):
    attack, target, budget = case(name, breast_cancer, breast_cancer_logistic, cancer_tree, seed=5)
    first, second = (attack.extract(target, budget=budget) for _ in range(2))
    x = breast_cancer.x_test
    np.testing.assert_array_equal(first.stolen.predict_proba(x), second.stolen.predict_proba(x))


@pytest.mark.parametrize("name", ATTACKS)
def test_budget_below_the_minimum_is_refused(name, breast_cancer, breast_cancer_logistic, cancer_tree):
    attack, target, _ = case(name, breast_cancer, breast_cancer_logistic, cancer_tree)
    with pytest.raises(ValidationError, match="`budget` must be at least"):
        attack.extract(target, budget=attack.minimum_budget(target) - 1)
