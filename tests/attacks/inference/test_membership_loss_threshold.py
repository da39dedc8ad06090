"""LossThreshold: Yeom et al.'s loss attack."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier

from bastion.attacks.inference import LossThreshold, evaluate_membership
from bastion.exceptions import CapabilityError, ValidationError
from bastion.models import SklearnModel, TorchModel


def _result(model, split):
    return evaluate_membership(
        model, LossThreshold(), split.x_members, split.y_members, split.x_nonmembers, split.y_nonmembers
    )


def test_loss_threshold_beats_chance_on_an_overfit_model(overfit_mlp, membership_split):
    assert _result(overfit_mlp, membership_split).auc >= 0.6


def test_regularised_model_leaks_less_than_overfit_one(overfit_mlp, regularised_mlp, membership_split):
    assert _result(regularised_mlp, membership_split).auc < _result(overfit_mlp, membership_split).auc


def test_score_is_minus_the_cross_entropy(digits_mlp, digits):
    x, y = digits.x_test[:50], digits.y_test[:50]
    logits = torch.from_numpy(digits_mlp.logits(x)).double()
    expected = -torch.nn.functional.cross_entropy(logits, torch.from_numpy(y), reduction="none").numpy()
    np.testing.assert_allclose(LossThreshold().score(digits_mlp, x, y), expected, rtol=1e-9)


def test_white_box_scores_stay_distinct_where_the_softmax_saturates(digits_mlp, digits):
    # Logits scaled by 50: the float32 softmax rounds most true-class probabilities to 1.
    scale = torch.nn.Linear(digits.n_classes, digits.n_classes, bias=False)
    torch.nn.init.eye_(scale.weight)
    scale.weight.data *= 50
    confident = TorchModel(
        torch.nn.Sequential(digits_mlp.module, scale), input_shape=digits.input_shape, n_classes=digits.n_classes
    )
    x, y = digits.x_test, digits.y_test
    saturated = confident.predict_proba(x)[np.arange(len(y)), y] == 1.0
    scores = LossThreshold().score(confident, x[saturated], y[saturated])
    assert saturated.sum() > 100
    assert len(np.unique(scores)) == saturated.sum()


def test_black_box_sklearn_model_leaks_through_its_probabilities(digits):
    flat = digits.x_train.reshape(len(digits.x_train), -1)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(flat, digits.y_train)
    model = SklearnModel(forest, input_shape=digits.input_shape)
    result = evaluate_membership(model, LossThreshold(), digits.x_train, digits.y_train, digits.x_test, digits.y_test)
    assert result.auc > 0.6


def test_label_only_model_is_refused_naming_scores(label_only_model, breast_cancer):
    with pytest.raises(CapabilityError, match="LossThreshold needs a model with 'scores'"):
        LossThreshold().score(label_only_model, breast_cancer.x_test, breast_cancer.y_test)


def test_labels_outside_the_model_classes_are_refused(digits_mlp, digits):
    with pytest.raises(ValidationError, match=r"`y` must hold labels in 0\.\.9"):
        LossThreshold().score(digits_mlp, digits.x_test[:2], np.array([0, 10]))


def test_fit_needs_no_training_and_returns_the_attack(digits_mlp, digits):
    attack = LossThreshold()
    queries = digits_mlp.queries
    assert attack.fit(digits_mlp, digits.x_train[:5], digits.y_train[:5]) is attack
    assert digits_mlp.queries == queries
