from __future__ import annotations

import numpy as np
import pytest

from bastion.exceptions import InputTypeError
from bastion.sensors import ClassNoveltySensor


def test_flags_samples_that_do_not_look_like_their_class(digits):
    sensor = ClassNoveltySensor().fit(digits.x_train, digits.y_train)
    wrong = (digits.y_test + 1) % 10
    assert sensor.predict(digits.x_test, wrong).mean() > sensor.predict(digits.x_test, digits.y_test).mean() + 0.3


def test_class_absent_from_training_is_flagged(digits):
    keep = digits.y_train < 5
    sensor = ClassNoveltySensor().fit(digits.x_train[keep], digits.y_train[keep])
    assert sensor.predict(digits.x_test[:4], np.full(4, 7)).all()


def test_detector_without_score_samples_is_refused():
    with pytest.raises(InputTypeError, match="score_samples"):
        ClassNoveltySensor(detector=object())
