"""DecisionTreePathFinding (Tramèr et al. 2016, Sec. 4.2): trees served with leaf identities."""

from __future__ import annotations

import pytest
from sklearn.tree import DecisionTreeClassifier

from bastion.attacks.extraction import DecisionTreePathFinding
from bastion.exceptions import CapabilityError, InputTypeError, ValidationError
from bastion.models import LeafIdentity, SklearnModel


@pytest.fixture(scope="module")
def tree(breast_cancer) -> SklearnModel:
    estimator = DecisionTreeClassifier(max_depth=5, random_state=0).fit(breast_cancer.x_train, breast_cancer.y_train)
    return SklearnModel(estimator)


def test_every_leaf_is_recovered_exactly(tree, breast_cancer):
    target = LeafIdentity(tree)
    result = DecisionTreePathFinding().extract(target, budget=10_000, x_eval=breast_cancer.x_test)
    assert result.stolen.n_leaves == tree.estimator.get_n_leaves()
    assert result.fidelity == 1.0
    assert result.confidence_error_max == 0.0
    assert target.queries == result.queries_used < 10_000


def test_a_short_budget_is_never_exceeded(tree):
    target = LeafIdentity(tree)
    result = DecisionTreePathFinding().extract(target, budget=300)
    assert target.queries == result.queries_used <= 300
    assert 1 <= result.stolen.n_leaves < tree.estimator.get_n_leaves()


def test_a_tree_without_leaf_identities_is_refused_naming_leaves(tree):
    with pytest.raises(CapabilityError, match="DecisionTreePathFinding needs a model with 'leaves'"):
        DecisionTreePathFinding().extract(tree, budget=1000)


def test_leaf_identity_needs_a_tree(breast_cancer_logistic):
    with pytest.raises(InputTypeError, match="decision tree"):
        LeafIdentity(breast_cancer_logistic)


def test_budget_below_one_leaf_names_the_minimum(tree):
    with pytest.raises(ValidationError, match="at least 61"):
        DecisionTreePathFinding().extract(LeafIdentity(tree), budget=60)


def test_minimum_budget_of_a_non_model_is_a_type_error_naming_model():
    with pytest.raises(InputTypeError, match="`model` must be a bastion Model"):
        DecisionTreePathFinding().minimum_budget(None)
