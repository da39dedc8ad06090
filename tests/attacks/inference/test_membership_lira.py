"""LiRA: the offline likelihood-ratio attack."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from bastion.attacks.inference import LiRA, LossThreshold, evaluate_membership, train_like
from bastion.attacks.inference.base import log_probabilities, logit_confidence
from bastion.exceptions import CapabilityError, InputTypeError, NotFittedError, ValidationError
from bastion.models import SklearnModel


def _evaluate(attack, model, split):
    return evaluate_membership(model, attack, split.x_members, split.y_members, split.x_nonmembers, split.y_nonmembers)


def test_lira_beats_chance_on_an_overfit_model(fitted_lira, overfit_mlp, membership_split):
    assert _evaluate(fitted_lira, overfit_mlp, membership_split).auc >= 0.6


def test_lira_finds_more_members_at_low_fpr_than_the_loss_attack(fitted_lira, overfit_mlp, membership_split):
    lira = _evaluate(fitted_lira, overfit_mlp, membership_split)
    loss = _evaluate(LossThreshold(), overfit_mlp, membership_split)
    assert lira.tpr_at_fpr_1pct > loss.tpr_at_fpr_1pct


def test_score_is_minus_the_log_p_value_of_the_out_gaussian(fitted_lira, overfit_mlp, membership_split):
    x, y = membership_split.x_nonmembers[:30], membership_split.y_nonmembers[:30]
    phi = logit_confidence(log_probabilities(overfit_mlp, x), y)
    phi_out = np.stack([logit_confidence(log_probabilities(m, x), y) for m in fitted_lira.reference_models_])
    mean = phi_out.mean(axis=0)
    std = np.sqrt(((phi_out - mean) ** 2).sum() / (phi_out.size - phi_out.shape[1]))
    np.testing.assert_allclose(fitted_lira.score(overfit_mlp, x, y), -norm.logsf(phi, mean, std), rtol=1e-10)


def test_per_record_variance_uses_each_record_spread(fitted_lira, overfit_mlp, membership_split):
    per_record = LiRA(train_fn=fitted_lira.train_fn, global_variance=False)
    per_record.reference_models_, per_record.fitted_ = fitted_lira.reference_models_, True
    x, y = membership_split.x_nonmembers[:30], membership_split.y_nonmembers[:30]
    phi = logit_confidence(log_probabilities(overfit_mlp, x), y)
    phi_out = np.stack([logit_confidence(log_probabilities(m, x), y) for m in fitted_lira.reference_models_])
    expected = -norm.logsf(phi, phi_out.mean(axis=0), phi_out.std(axis=0, ddof=1))
    np.testing.assert_allclose(per_record.score(overfit_mlp, x, y), expected, rtol=1e-10)


def test_reference_models_train_on_the_requested_number_of_records(breast_cancer):
    sizes = []

    def train_fn(x, y, seed):
        sizes.append(len(x))
        return SklearnModel(LogisticRegression(solver="newton-cg").fit(x, y))

    target = SklearnModel(LogisticRegression(solver="newton-cg").fit(breast_cancer.x_train, breast_cancer.y_train))
    LiRA(train_fn=train_fn, n_reference=3, reference_size=40, progress=False).fit(
        target, breast_cancer.x_test, breast_cancer.y_test
    )
    assert sizes == [40, 40, 40]


def test_same_seed_same_scores(breast_cancer):
    estimator = LogisticRegression(C=100.0, solver="newton-cg", max_iter=500).fit(
        breast_cancer.x_train[:100], breast_cancer.y_train[:100]
    )
    target = SklearnModel(estimator)
    x_pool, y_pool = breast_cancer.x_train[100:], breast_cancer.y_train[100:]

    def scores(seed):
        attack = LiRA(train_fn=train_like(target), n_reference=3, seed=seed, progress=False)
        return attack.fit(target, x_pool, y_pool).score(target, breast_cancer.x_test, breast_cancer.y_test)

    np.testing.assert_array_equal(scores(3), scores(3))
    assert not np.array_equal(scores(3), scores(4))


def test_scoring_before_fit_is_refused(overfit_mlp, membership_split):
    attack = LiRA(train_fn=train_like(overfit_mlp))
    with pytest.raises(NotFittedError, match="LiRA must be fitted"):
        attack.score(overfit_mlp, membership_split.x_members, membership_split.y_members)


def test_label_only_target_is_refused_naming_scores(label_only_model, breast_cancer):
    attack = LiRA(train_fn=train_like(label_only_model))
    with pytest.raises(CapabilityError, match="LiRA needs a model with 'scores'"):
        attack.fit(label_only_model, breast_cancer.x_test, breast_cancer.y_test)


def test_train_fn_returning_a_label_only_model_is_refused(breast_cancer, breast_cancer_logistic, label_only_model):
    attack = LiRA(train_fn=lambda x, y, seed: label_only_model, n_reference=2, progress=False)
    with pytest.raises(CapabilityError, match=r"the model train_fn returned.*'scores'"):
        attack.fit(breast_cancer_logistic, breast_cancer.x_test, breast_cancer.y_test)


def test_reference_size_larger_than_the_pool_is_refused(breast_cancer, breast_cancer_logistic):
    attack = LiRA(train_fn=train_like(breast_cancer_logistic), reference_size=10_000, progress=False)
    with pytest.raises(ValidationError, match="needs 10000 records per model, but the pool holds only"):
        attack.fit(breast_cancer_logistic, breast_cancer.x_test, breast_cancer.y_test)


def test_non_callable_train_fn_is_refused():
    with pytest.raises(InputTypeError, match="`train_fn` must be a callable"):
        LiRA(train_fn="mlp")


def test_too_few_reference_models_are_refused(breast_cancer_logistic):
    with pytest.raises(ValidationError, match=r"`n_reference` must be an int in \[2, inf\), got 1"):
        LiRA(train_fn=train_like(breast_cancer_logistic), n_reference=1)
