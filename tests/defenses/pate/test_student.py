"""Label spreading for PATE: the spreading helper and the teacher estimator."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.defenses.pate import LabelSpreadingClassifier, TorchTrainer
from bastion.defenses.pate.student import spread_labels
from bastion.exceptions import InputTypeError, NotFittedError, ValidationError


def test_spread_labels_labels_the_unlabelled_digits_accurately(split):
    spread = spread_labels(split.x_public[:50], split.y_public[:50], split.x_public[50:], n_neighbors=7)
    assert spread.shape == (len(split.x_public),)
    assert np.mean(spread[50:] == split.y_public[50:]) > 0.8


def test_spread_labels_marks_inputs_no_label_reaches():
    rng = np.random.default_rng(0)
    near, far = rng.normal(0, 0.1, (20, 2)), rng.normal(100, 0.1, (20, 2))
    labels = np.array([0, 1] * 5)
    spread = spread_labels(near[:10], labels, np.concatenate([near[10:], far]), n_neighbors=3)
    assert np.all(spread[:20] >= 0) and np.all(spread[20:] == -1)


def test_label_spreading_classifier_predicts_with_probabilities(split):
    model = LabelSpreadingClassifier(split.x_public, 10).fit(split.x_private[:100], split.y_private[:100])
    proba = model.predict_proba(split.x_test)
    assert proba.shape == (len(split.x_test), 10) and np.allclose(proba.sum(axis=1), 1)
    assert np.mean(model.predict(split.x_test) == split.y_test) > 0.85


def test_label_spreading_classifier_without_unlabelled_data_raises_a_clear_error(split):
    with pytest.raises((ValidationError, TypeError), match="x_unlabelled"):
        LabelSpreadingClassifier().fit(split.x_private[:50], split.y_private[:50])


def test_label_spreading_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="LabelSpreadingClassifier is not fitted yet"):
        LabelSpreadingClassifier().predict(np.zeros((2, 4)))


def test_torch_trainer_refuses_a_build_without_a_seed_keyword():
    with pytest.raises(InputTypeError, match="`build` must accept a `seed` keyword"):
        TorchTrainer(lambda: None)
