"""The shared machinery: the budget guard, the result, fidelity off the budget."""

from __future__ import annotations

import json

import pytest

from bastion.attacks.extraction import EquationSolving, QueryBudget
from bastion.exceptions import BudgetExceededError, ValidationError
from bastion.models import GRADIENTS


def test_query_budget_refuses_a_batch_before_it_overruns(breast_cancer, breast_cancer_logistic):
    breast_cancer_logistic.reset_queries()
    guard = QueryBudget(breast_cancer_logistic, 10)
    guard.predict(breast_cancer.x_test[:6])
    with pytest.raises(BudgetExceededError, match=r"budget of 10 \(4 left\)"):
        guard.predict_proba(breast_cancer.x_test[:5])
    assert breast_cancer_logistic.queries == 6
    assert guard.remaining == 4


def test_query_budget_hides_gradients(digits_mlp):
    assert GRADIENTS not in QueryBudget(digits_mlp, 5).capabilities


def test_fidelity_queries_do_not_count_against_the_budget(breast_cancer, breast_cancer_logistic):
    breast_cancer_logistic.reset_queries()
    result = EquationSolving().extract(breast_cancer_logistic, budget=40, x_eval=breast_cancer.x_test)
    assert result.queries_used == breast_cancer_logistic.queries == 40
    assert result.n_eval == len(breast_cancer.x_test)


def test_default_evaluation_set_is_uniform_and_unlabeled(breast_cancer_logistic):
    result = EquationSolving().extract(breast_cancer_logistic, budget=31)
    assert result.n_eval == 1000
    assert result.accuracy is None


def test_result_serialises_to_json(breast_cancer, breast_cancer_logistic):
    result = EquationSolving().extract(
        breast_cancer_logistic, budget=31, x_eval=breast_cancer.x_test, y_eval=breast_cancer.y_test
    )
    decoded = json.loads(json.dumps(result.to_dict()))
    assert decoded["queries_used"] == 31
    assert decoded["stolen"].startswith("SklearnModel(LogisticRegression")


def test_labels_without_inputs_are_refused(breast_cancer, breast_cancer_logistic):
    with pytest.raises(ValidationError, match="`y_eval` was given without `x_eval`"):
        EquationSolving().extract(breast_cancer_logistic, budget=31, y_eval=breast_cancer.y_test)


def test_non_integer_budget_is_refused(breast_cancer_logistic):
    with pytest.raises(TypeError, match="`budget` must be an int"):
        EquationSolving().extract(breast_cancer_logistic, budget=31.5)
