"""HopSkipJump: a label-only attack, on a CNN and a label-only SVC, against its budget."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import SVC

from bastion.attacks import HopSkipJump
from bastion.attacks.evasion import hopskipjump
from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import SklearnModel


@pytest.fixture(scope="module")
def linear_svc(breast_cancer) -> SklearnModel:
    """A linear SVC without probabilities: a label-only model."""
    return SklearnModel(SVC(kernel="linear").fit(breast_cancer.x_train, breast_cancer.y_train))


def l2(x_adv, x) -> np.ndarray:
    return np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1)


def test_every_sample_becomes_adversarial_on_digits_cnn(digits, digits_cnn):
    x, y = digits.x_test[:10], digits.y_test[:10]

    x_adv = HopSkipJump(max_queries=300).generate(digits_cnn, x, y)

    assert np.all(digits_cnn.predict(x_adv) != y)
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_l2_distance_shrinks_with_more_queries(digits, digits_cnn):
    x, y = digits.x_test[:10], digits.y_test[:10]

    few = l2(HopSkipJump(max_queries=150).generate(digits_cnn, x, y), x)
    many = l2(HopSkipJump(max_queries=600).generate(digits_cnn, x, y), x)

    assert np.median(many) < 0.85 * np.median(few)
    assert np.mean(many < few) >= 0.8


def test_linf_version_is_adversarial_and_shrinks_linf(digits, digits_cnn):
    x, y = digits.x_test[:8], digits.y_test[:8]

    few = HopSkipJump(max_queries=100, norm="inf").generate(digits_cnn, x, y)
    many = HopSkipJump(max_queries=400, norm="inf").generate(digits_cnn, x, y)

    assert np.all(digits_cnn.predict(many) != y)
    linf_few, linf_many = (np.abs((x_adv - x).reshape(8, -1)).max(axis=1) for x_adv in (few, many))
    assert np.median(linf_many) < 0.95 * np.median(linf_few)


def test_label_only_svc_is_attacked_down_to_its_exact_minimal_distance(breast_cancer, linear_svc):
    # A linear boundary has a closed-form closest point: |w.x + b| / ||w|| away.
    x, y = breast_cancer.x_test[:20], breast_cancer.y_test[:20]
    estimator = linear_svc.estimator
    correct = estimator.predict(x) == y
    exact = np.abs(estimator.decision_function(x)) / np.linalg.norm(estimator.coef_[0])

    x_adv = HopSkipJump(max_queries=1000).generate(linear_svc, x, y)

    assert np.all(estimator.predict(x_adv) != y)
    ratio = l2(x_adv, x)[correct] / exact[correct]
    assert ratio.min() >= 1 - 1e-3
    assert np.median(ratio) < 1.1


def test_targeted_mode_makes_the_model_predict_the_target(digits, digits_cnn):
    # Two inputs of class 3 in the batch give starting points where noise alone fails.
    keep = np.r_[np.flatnonzero(digits.y_test != 3)[:10], np.flatnonzero(digits.y_test == 3)[:2]]
    x, y = digits.x_test[keep], digits.y_test[keep]

    x_adv = HopSkipJump(max_queries=300).generate(digits_cnn, x, y, target=3)

    assert np.all(digits_cnn.predict(x_adv) == 3)


def test_sample_without_a_starting_point_is_returned_unchanged(digits, digits_cnn):
    # Noise is almost never a 1 for this model and no input of the batch is labelled 1.
    keep = np.flatnonzero(digits.y_test != 1)[:4]
    x, y = digits.x_test[keep], digits.y_test[keep]

    x_adv = HopSkipJump(max_queries=300, init_trials=5).generate(digits_cnn, x, y, target=1)

    np.testing.assert_array_equal(x_adv, x)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_queries": 0}, ValidationError, r"`max_queries` must be an int in \[1, inf\), got 0"),
        ({"max_queries": 1.5}, InputTypeError, r"`max_queries` must be an int"),
        ({"norm": "1"}, ValidationError, r"`norm` must be one of 'inf', '2', got '1'"),
        ({"gamma": 0.0}, ValidationError, r"`gamma` must be a float in \(0, inf\), got 0.0"),
        ({"max_iterations": 0}, ValidationError, r"`max_iterations` must be an int in \[1, inf\), got 0"),
        ({"n_initial_evals": 0}, ValidationError, r"`n_initial_evals` must be an int in \[1, inf\), got 0"),
        ({"max_evals": 50}, ValidationError, r"`max_evals` must be at least `n_initial_evals` \(100\), got 50"),
        ({"init_trials": 0}, ValidationError, r"`init_trials` must be an int in \[1, inf\), got 0"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        HopSkipJump(**kwargs)


def test_same_seed_gives_the_same_result_and_another_seed_another(digits, digits_cnn):
    x, y = digits.x_test[:4], digits.y_test[:4]

    first = HopSkipJump(max_queries=150, seed=3).generate(digits_cnn, x, y)
    again = HopSkipJump(max_queries=150, seed=3).generate(digits_cnn, x, y)
    other = HopSkipJump(max_queries=150, seed=4).generate(digits_cnn, x, y)

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_is_unbounded():
    assert HopSkipJump().eps is None


def test_probes_beyond_the_memory_bound_are_streamed_and_stay_within_the_budget(digits, digits_cnn, monkeypatch):
    # A bound below one sample's probes forces the slice-by-slice estimate of Eq. 15.
    monkeypatch.setattr(hopskipjump, "_PROBE_ELEMENTS", 64 * 30)
    x, y = digits.x_test[:4], digits.y_test[:4]
    digits_cnn.reset_queries()
    x_adv = HopSkipJump(max_queries=300).generate(digits_cnn, x, y)
    assert digits_cnn.queries <= 4 * 300
    assert np.all(digits_cnn.predict(x_adv) != y)
    start = HopSkipJump(max_queries=300, max_iterations=1).generate(digits_cnn, x, y)
    assert np.median(l2(x_adv, x)) < np.median(l2(start, x))
