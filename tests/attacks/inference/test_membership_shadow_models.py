"""ShadowModels: Shokri et al.'s attack models learned on shadow models."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from bastion.attacks.inference import ShadowModels, evaluate_membership, train_like
from bastion.attacks.inference.shadow_models import attack_features
from bastion.exceptions import CapabilityError, InputTypeError, NotFittedError, ValidationError


def test_shadow_models_beat_chance_on_an_overfit_model(fitted_shadow, overfit_mlp, membership_split):
    s = membership_split
    result = evaluate_membership(overfit_mlp, fitted_shadow, s.x_members, s.y_members, s.x_nonmembers, s.y_nonmembers)
    assert result.auc >= 0.6


def test_one_attack_model_per_class(fitted_shadow):
    assert sorted(fitted_shadow.attack_models_) == list(range(10))
    assert len(fitted_shadow.shadow_models_) == 4


def test_scores_are_membership_probabilities(fitted_shadow, overfit_mlp, membership_split):
    scores = fitted_shadow.score(overfit_mlp, membership_split.x_nonmembers, membership_split.y_nonmembers)
    assert scores.shape == (len(membership_split.x_nonmembers),)
    assert np.all((scores >= 0) & (scores <= 1))


def test_attack_features_spread_probabilities_near_one():
    log_probs = np.log(np.array([[1 - 1e-12, 1e-12], [1 - 1e-6, 1e-6]]))
    features = attack_features(log_probs)
    np.testing.assert_allclose(features[:, 0], [np.log(1e12), np.log(1e6)], rtol=1e-3)
    np.testing.assert_allclose(features[:, 1], -features[:, 0], rtol=1e-3)


def test_custom_attack_model_is_cloned_per_class(breast_cancer, breast_cancer_logistic):
    attack = ShadowModels(
        train_fn=train_like(breast_cancer_logistic),
        n_shadow=2,
        attack_model=RandomForestClassifier(n_estimators=5),
        seed=1,
        progress=False,
    ).fit(breast_cancer_logistic, breast_cancer.x_test, breast_cancer.y_test)
    first, second = attack.attack_models_[0], attack.attack_models_[1]
    assert isinstance(first, RandomForestClassifier) and first is not second
    assert first.random_state == 1


def test_attack_model_without_predict_proba_is_refused(breast_cancer_logistic):
    with pytest.raises(InputTypeError, match="`attack_model` must be a scikit-learn classifier"):
        ShadowModels(train_fn=train_like(breast_cancer_logistic), attack_model=object())


def test_scoring_before_fit_is_refused(breast_cancer, breast_cancer_logistic):
    with pytest.raises(NotFittedError, match="ShadowModels must be fitted"):
        ShadowModels(train_fn=train_like(breast_cancer_logistic)).score(
            breast_cancer_logistic, breast_cancer.x_test, breast_cancer.y_test
        )


def test_label_only_target_is_refused_naming_scores(label_only_model, breast_cancer):
    with pytest.raises(CapabilityError, match="ShadowModels needs a model with 'scores'"):
        ShadowModels(train_fn=train_like(label_only_model)).fit(
            label_only_model, breast_cancer.x_test, breast_cancer.y_test
        )


def test_same_seed_same_scores(breast_cancer, breast_cancer_logistic):
    def scores(seed):
        attack = ShadowModels(train_fn=train_like(breast_cancer_logistic), n_shadow=2, seed=seed, progress=False)
        attack.fit(breast_cancer_logistic, breast_cancer.x_test, breast_cancer.y_test)
        return attack.score(breast_cancer_logistic, breast_cancer.x_train, breast_cancer.y_train)

    np.testing.assert_array_equal(scores(0), scores(0))
    assert not np.array_equal(scores(0), scores(1))


def test_scoring_another_model_than_the_fitted_one_is_refused(
    breast_cancer, breast_cancer_logistic, digits_mlp, digits
):
    attack = ShadowModels(train_fn=train_like(breast_cancer_logistic), n_shadow=1, progress=False)
    attack.fit(breast_cancer_logistic, breast_cancer.x_test, breast_cancer.y_test)
    with pytest.raises(ValidationError, match="`model` must be the model ShadowModels was fitted against"):
        attack.score(digits_mlp, digits.x_test[:4], digits.y_test[:4])
