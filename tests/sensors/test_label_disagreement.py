from __future__ import annotations

import numpy as np
import pytest

from bastion.exceptions import InputTypeError, NotFittedError
from bastion.sensors import LabelDisagreementSensor


def test_flags_flipped_labels(digits):
    sensor = LabelDisagreementSensor().fit(digits.x_train, digits.y_train)
    flipped = (digits.y_test + 1) % 10
    assert sensor.predict(digits.x_test, flipped).mean() > 0.9
    assert sensor.predict(digits.x_test, digits.y_test).mean() < 0.1


def test_label_unseen_in_training_scores_one(digits):
    keep = digits.y_train < 5
    sensor = LabelDisagreementSensor().fit(digits.x_train[keep], digits.y_train[keep])
    assert np.all(sensor.score(digits.x_test[:5], np.full(5, 9)) == 1.0)


def test_estimator_without_predict_proba_is_refused():
    with pytest.raises(InputTypeError, match="predict_proba"):
        LabelDisagreementSensor(estimator=object())


def test_predict_before_fit_raises_not_fitted(digits):
    with pytest.raises(NotFittedError):
        LabelDisagreementSensor().predict(digits.x_test, digits.y_test)
