"""membership_leakage, make_attack, train_like and evaluate_membership."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from bastion.attacks.inference import (
    ConfidenceThreshold,
    LiRA,
    LossThreshold,
    evaluate_membership,
    make_attack,
    membership_leakage,
    train_like,
)
from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import SklearnModel, TorchModel


def test_leakage_reports_each_method_in_order(overfit_mlp, membership_split):
    s = membership_split
    results = membership_leakage(overfit_mlp, s.x_members, s.y_members, s.x_nonmembers, s.y_nonmembers)
    assert list(results) == ["loss", "confidence"]
    assert results["loss"].auc >= 0.6
    assert results["loss"].n_members == len(s.x_members)


def test_leakage_with_lira_needs_a_pool_and_train_fn(overfit_mlp, membership_split):
    s = membership_split
    with pytest.raises(ValidationError, match="pass x_population, y_population and train_fn"):
        membership_leakage(overfit_mlp, s.x_members, s.y_members, s.x_nonmembers, s.y_nonmembers, methods=["lira"])


def test_leakage_runs_pool_attacks_on_a_black_box_model(digits):
    x, y = digits.x_train, digits.y_train
    estimator = LogisticRegression(C=100.0, solver="newton-cg", max_iter=2000).fit(x[:60].reshape(60, -1), y[:60])
    target = SklearnModel(estimator, input_shape=digits.input_shape)
    results = membership_leakage(
        target,
        x[:60],
        y[:60],
        digits.x_test,
        digits.y_test,
        methods=("shadow", "lira"),
        x_population=x[60:],
        y_population=y[60:],
        train_fn=train_like(target),
    )
    assert results["shadow"].auc >= 0.6 and results["lira"].auc >= 0.6


def test_unknown_method_is_refused(digits_mlp, digits):
    with pytest.raises(ValidationError, match="`methods` must be one of 'loss', 'confidence', 'shadow', 'lira'"):
        membership_leakage(digits_mlp, digits.x_train, digits.y_train, digits.x_test, digits.y_test, methods=["x"])


def test_make_attack_builds_by_name(digits_mlp):
    assert isinstance(make_attack("confidence"), ConfidenceThreshold)
    assert isinstance(make_attack("lira", train_fn=train_like(digits_mlp), n_reference=4), LiRA)


def test_train_like_rebuilds_the_zoo_network_with_a_new_seed(digits_mlp, digits):
    model = train_like(digits_mlp, epochs=1)(digits.x_train[:64], digits.y_train[:64], 5)
    assert isinstance(model, TorchModel)
    assert model.module.arch == "mlp" and model.module.config["seed"] == 5
    assert model.module.config["hidden"] == digits_mlp.module.config["hidden"]
    assert not torch.equal(model.module[1].weight, digits_mlp.module[1].weight)


def test_train_like_clones_a_sklearn_estimator(breast_cancer_logistic, breast_cancer):
    model = train_like(breast_cancer_logistic)(breast_cancer.x_test, breast_cancer.y_test, 0)
    assert isinstance(model, SklearnModel) and model.estimator is not breast_cancer_logistic.estimator
    assert model.estimator.get_params() == breast_cancer_logistic.estimator.get_params() | {"random_state": 0}


def test_train_like_refuses_a_custom_module(digits):
    custom = TorchModel(
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)), input_shape=(1, 8, 8), n_classes=10
    )
    with pytest.raises(InputTypeError, match="pass your own train_fn"):
        train_like(custom)


def test_evaluate_membership_counts_the_target_queries(digits_mlp, digits):
    result = evaluate_membership(
        digits_mlp, LossThreshold(), digits.x_train[:30], digits.y_train[:30], digits.x_test[:20], digits.y_test[:20]
    )
    assert result.queries_used == 50
    assert (result.n_members, result.n_nonmembers) == (30, 20)


def test_evaluate_membership_refuses_a_non_attack(digits_mlp, digits):
    with pytest.raises(InputTypeError, match="`attack` must be a membership attack"):
        evaluate_membership(digits_mlp, "loss", digits.x_train, digits.y_train, digits.x_test, digits.y_test)


def test_results_are_seed_independent_for_threshold_attacks(digits_mlp, digits):
    first = LossThreshold().score(digits_mlp, digits.x_test, digits.y_test)
    np.testing.assert_array_equal(first, LossThreshold().score(digits_mlp, digits.x_test, digits.y_test))


def test_leakage_trains_reference_models_on_as_many_records_as_members(breast_cancer, breast_cancer_logistic):
    sizes = []
    train = train_like(breast_cancer_logistic)

    def train_fn(x, y, seed):
        sizes.append(len(x))
        return train(x, y, seed)

    x, y = breast_cancer.x_train, breast_cancer.y_train
    membership_leakage(
        breast_cancer_logistic,
        x[:50],
        y[:50],
        x[50:100],
        y[50:100],
        methods=("lira",),
        x_population=breast_cancer.x_test,
        y_population=breast_cancer.y_test,
        train_fn=train_fn,
    )
    assert set(sizes) == {50}


def test_leakage_refuses_a_negative_seed(digits_mlp, digits):
    with pytest.raises(ValidationError, match="`seed` must be an int"):
        x, y = digits.x_test[:4], digits.y_test[:4]
        membership_leakage(digits_mlp, x, y, x, y, seed=-1)


def test_leakage_refuses_empty_methods(digits_mlp, digits):
    with pytest.raises(ValidationError, match="`methods` must name at least one"):
        x, y = digits.x_test[:4], digits.y_test[:4]
        membership_leakage(digits_mlp, x, y, x, y, methods=[])


def test_leakage_refuses_methods_given_as_one_string(digits_mlp, digits):
    with pytest.raises(InputTypeError, match="`methods` must be a sequence of attack names"):
        x, y = digits.x_test[:4], digits.y_test[:4]
        membership_leakage(digits_mlp, x, y, x, y, methods="loss")


def test_make_attack_turns_bad_keywords_into_a_type_error_naming_the_attack():
    with pytest.raises(InputTypeError, match=r"make_attack\('lira'\).*train_fn"):
        make_attack("lira")


def test_evaluate_membership_refuses_an_attack_class(digits_mlp, digits):
    with pytest.raises(InputTypeError, match="the class LossThreshold"):
        evaluate_membership(digits_mlp, LossThreshold, digits.x_test, digits.y_test, digits.x_test, digits.y_test)
