from __future__ import annotations

import numpy as np
import pytest

from bastion.exceptions import NotFittedError, ValidationError
from bastion.sensors import PAYLSensor


def test_threshold_is_the_training_quantile(traffic_train):
    normal = traffic_train.payloads[~traffic_train.is_attack]
    sensor = PAYLSensor(quantile=0.9).fit(normal)
    assert sensor.predict(normal).mean() == pytest.approx(0.1, abs=0.01)


def test_identical_payload_scores_zero_distance():
    sensor = PAYLSensor(n_length_bins=1).fit([b"GET /index.html"] * 5)
    assert sensor.score([b"GET /index.html"])[0] == pytest.approx(0.0)


def test_attacks_score_higher_than_normal_requests(traffic_train, traffic_test):
    sensor = PAYLSensor().fit(traffic_train.payloads[~traffic_train.is_attack])
    scores = sensor.score(traffic_test.payloads)
    assert np.median(scores[traffic_test.is_attack]) > np.median(scores[~traffic_test.is_attack])


def test_length_bins_hold_the_training_quantiles():
    payloads = [b"x" * length for length in range(10, 110)]
    assert len(PAYLSensor(n_length_bins=4).fit(payloads).edges_) == 3


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        PAYLSensor().predict([b"GET /"])


def test_alpha_must_be_positive():
    with pytest.raises(ValidationError, match="alpha"):
        PAYLSensor(alpha=0)
