"""LiRA: the offline and online likelihood-ratio attack."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from bastion.attacks.inference import LiRA, LossThreshold, evaluate_membership, train_like
from bastion.attacks.inference.base import log_probabilities, logit_confidence
from bastion.backends import LocalBackend
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


# Online LiRA: a logistic regression overfit on 200 digits; the attacker's pool is those 200
# members and 200 non-members (it does not know which is which).
@pytest.fixture(scope="module")
def online_setting(digits):
    order = np.random.default_rng(0).permutation(len(digits.x_train))
    members, nonmembers, rest = order[:200], order[200:400], order[400:]
    x = digits.x_train.reshape(len(digits.x_train), -1)
    estimator = LogisticRegression(C=100.0, max_iter=300).fit(x[members], digits.y_train[members])
    target = SklearnModel(estimator, input_shape=digits.input_shape)
    pool = np.concatenate([members, nonmembers])
    return target, digits.x_train, digits.y_train, members, nonmembers, rest, pool


def _online(target, x, y, pool, **kwargs):
    kwargs = {"n_reference": 8, "online": True, "progress": False, **kwargs}
    return LiRA(train_fn=train_like(target), **kwargs).fit(target, x[pool], y[pool])


def _auc(attack, target, x, y, members, nonmembers):
    return evaluate_membership(target, attack, x[members], y[members], x[nonmembers], y[nonmembers]).auc


def test_online_lira_beats_offline_lira_auc(online_setting):
    target, x, y, members, nonmembers, rest, pool = online_setting
    offline = LiRA(train_fn=train_like(target), n_reference=8, reference_size=200, progress=False)
    offline.fit(target, x[rest], y[rest])
    online = _online(target, x, y, pool)
    assert _auc(online, target, x, y, members, nonmembers) >= _auc(offline, target, x, y, members, nonmembers)


def test_online_every_record_trains_half_the_reference_models(online_setting):
    target, x, y, *_, pool = online_setting
    attack = _online(target, x, y, pool)
    np.testing.assert_array_equal(attack.reference_members_.sum(axis=0), np.full(len(pool), 4))


def test_online_serial_and_local_backends_give_identical_scores(online_setting):
    target, x, y, members, *_, pool = online_setting
    serial = _online(target, x, y, pool, backend="serial").score(target, x[members], y[members])
    local = _online(target, x, y, pool, backend=LocalBackend(2)).score(target, x[members], y[members])
    np.testing.assert_array_equal(serial, local)


def test_online_fixed_variance_is_the_likelihood_ratio_of_two_pooled_gaussians(online_setting):
    target, x, y, members, *_, pool = online_setting
    attack = _online(target, x, y, pool, global_variance=True)
    xs, ys = x[members[:30]], y[members[:30]]
    phi = logit_confidence(log_probabilities(target, xs), ys)
    phis = np.stack([logit_confidence(log_probabilities(m, xs), ys) for m in attack.reference_models_])
    inside = attack.reference_members_[:, :30]  # the first 200 pool records are the members, in order
    expected = 0.0
    for mask, sign in ((inside, 1.0), (~inside, -1.0)):
        mean = np.array([phis[mask[:, i], i].mean() for i in range(30)])
        std = np.sqrt(sum(((phis[mask[:, i], i] - mean[i]) ** 2).sum() for i in range(30)) / (mask.sum() - 30))
        expected = expected + sign * norm.logpdf(phi, mean, std)
    np.testing.assert_allclose(attack.score(target, xs, ys), expected, rtol=1e-8)


def test_online_per_record_variance_differs_from_fixed_variance(online_setting):
    target, x, y, members, *_, pool = online_setting
    fixed = _online(target, x, y, pool).score(target, x[members], y[members])
    per_record = _online(target, x, y, pool, global_variance=False).score(target, x[members], y[members])
    assert np.all(np.isfinite(per_record)) and not np.allclose(fixed, per_record)


def test_online_scoring_a_record_outside_the_pool_is_refused(online_setting):
    target, x, y, _, _, rest, pool = online_setting
    attack = _online(target, x, y, pool)
    with pytest.raises(ValidationError, match=r"fit pool only .* got 5 of 5 record\(s\) not in it"):
        attack.score(target, x[rest[:5]], y[rest[:5]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"online": True, "reference_size": 40}, "`reference_size` must be None with online=True"),
        ({"online": True, "global_variance": False, "n_reference": 2}, "`n_reference` must be >= 4"),
        ({"backend": "local"}, "`backend` applies to online=True only"),
        ({"online": True, "backend": "cluster"}, "backend"),
    ],
)
def test_bad_online_arguments_are_refused(breast_cancer_logistic, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        LiRA(train_fn=train_like(breast_cancer_logistic), **kwargs)
