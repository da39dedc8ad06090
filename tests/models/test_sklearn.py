"""SklearnModel: black-box scores, label-only estimators, shapes and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Perceptron

from bastion.exceptions import CapabilityError, InputTypeError, NotFittedError, ValidationError
from bastion.models import GRADIENTS, LABELS, SCORES, SklearnModel, require


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    x = rng.random((60, 4))
    y = (x[:, 0] + x[:, 1] > 1).astype(int)
    return x, y


def test_probabilities_are_the_estimators(breast_cancer_logistic, breast_cancer):
    x = breast_cancer.x_test[:10]
    np.testing.assert_allclose(
        breast_cancer_logistic.predict_proba(x), breast_cancer_logistic.estimator.predict_proba(x), atol=1e-6
    )
    assert breast_cancer_logistic.capabilities == frozenset({LABELS, SCORES})


def test_queries_count_inputs(table):
    x, y = table
    model = SklearnModel(LogisticRegression().fit(x, y))
    model.predict(x[:7])
    model.predict_proba(x[:3])
    assert model.queries == 10


def test_label_only_estimator_has_no_scores_capability(table):
    x, y = table
    model = SklearnModel(Perceptron(random_state=0).fit(x, y))
    assert model.capabilities == frozenset({LABELS})
    np.testing.assert_array_equal(model.predict(x), model.estimator.predict(x))


def test_label_only_estimator_refuses_predict_proba_with_capability_error(table):
    x, y = table
    model = SklearnModel(Perceptron(random_state=0).fit(x, y))
    with pytest.raises(CapabilityError, match=r"needs a model with 'scores'.*answers labels only"):
        model.predict_proba(x)


def test_require_names_the_missing_capability_and_a_way_out(breast_cancer_logistic):
    with pytest.raises(CapabilityError, match=r"PGD needs a model with 'gradients'.*black-box attack"):
        require(breast_cancer_logistic, GRADIENTS, "PGD")
    require(breast_cancer_logistic, SCORES, "SquareAttack")


def test_require_refuses_what_is_not_a_bastion_model(table):
    x, y = table
    with pytest.raises(InputTypeError, match=r"must be a bastion Model.*wrap your model first"):
        require(LogisticRegression().fit(x, y), SCORES, "SquareAttack")


def test_images_are_flattened_for_the_estimator(digits):
    flat = digits.x_train.reshape(len(digits.x_train), -1)
    estimator = LogisticRegression(max_iter=200).fit(flat[:300], digits.y_train[:300])
    model = SklearnModel(estimator, input_shape=(1, 8, 8))
    np.testing.assert_array_equal(
        model.predict(digits.x_test[:20]), estimator.predict(digits.x_test[:20].reshape(20, -1))
    )


def test_input_shape_defaults_to_the_feature_count(breast_cancer_logistic):
    assert breast_cancer_logistic.input_shape == (30,)


def test_input_shape_with_the_wrong_size_is_refused(table):
    x, y = table
    with pytest.raises(ValidationError, match=r"must hold 4 features"):
        SklearnModel(LogisticRegression().fit(x, y), input_shape=(1, 2, 3))


def test_unfitted_estimator_is_refused():
    with pytest.raises(NotFittedError, match=r"LogisticRegression must be fitted"):
        SklearnModel(LogisticRegression())


def test_classes_other_than_zero_to_k_are_refused(table):
    x, y = table
    with pytest.raises(ValidationError, match=r"labels 0..k-1, got classes_ \[1, 5\]"):
        SklearnModel(LogisticRegression().fit(x, np.where(y == 1, 5, 1)))


def test_object_without_predict_is_refused():
    with pytest.raises(InputTypeError, match=r"scikit-learn classifier with predict"):
        SklearnModel(object())


def test_fitted_regressor_is_refused_as_not_a_classifier(breast_cancer):
    regressor = LinearRegression().fit(breast_cancer.x_train, breast_cancer.y_train)
    with pytest.raises(InputTypeError, match="`estimator` must be a classifier with classes_, got LinearRegression"):
        SklearnModel(regressor)
