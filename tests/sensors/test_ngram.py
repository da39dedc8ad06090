from __future__ import annotations

import numpy as np
import pytest

from bastion.exceptions import InputTypeError, NotFittedError, ValidationError
from bastion.sensors import NGramSensor
from bastion.sensors.ngram import ngram_hashes


def test_score_is_the_share_of_unseen_ngrams():
    sensor = NGramSensor(3, bloom_bits=2**16).fit([b"abcdef"])
    # "abcxyz" has 4 trigrams: abc (seen), bcx, cxy, xyz (unseen).
    assert sensor.score([b"abcdef", b"abcxyz"]) == pytest.approx([0.0, 0.75])


def test_payload_shorter_than_n_scores_zero():
    sensor = NGramSensor(5, bloom_bits=2**16).fit([b"GET / HTTP/1.1"])
    assert sensor.score([b"GET", b""]).tolist() == [0.0, 0.0]


def test_ngrams_do_not_cross_payload_boundaries():
    hashes, owner = ngram_hashes(np.frombuffer(b"abcdxy", dtype=np.uint8), np.array([4, 2]), 3)
    assert owner.tolist() == [0, 0]  # abc, bcd; no "cdx"/"dxy" across the boundary
    assert len(set(hashes.tolist())) == 2


def test_str_payloads_are_encoded_as_utf8():
    sensor = NGramSensor(3, bloom_bits=2**16).fit(["héllo"])
    assert sensor.score([b"h\xc3\xa9llo"]).tolist() == [0.0]


def test_predict_flags_scores_above_threshold(traffic_train, traffic_test):
    sensor = NGramSensor(threshold=0.1).fit(traffic_train.payloads[~traffic_train.is_attack])
    scores = sensor.score(traffic_test.payloads)
    assert np.array_equal(sensor.predict(traffic_test.payloads), scores > 0.1)


def test_clean_sensor_detects_attacks_with_few_false_positives(traffic_train, traffic_test):
    sensor = NGramSensor().fit(traffic_train.payloads[~traffic_train.is_attack])
    flagged = sensor.predict(traffic_test)
    assert flagged[traffic_test.is_attack].mean() > 0.8
    assert flagged[~traffic_test.is_attack].mean() < 0.1


def test_predict_many_matches_predict_for_each_sensor(traffic_train):
    payloads = list(traffic_train.payloads)
    sensors = [NGramSensor().fit(payloads[i * 500 : (i + 1) * 500]) for i in range(5)]
    together = NGramSensor.predict_many(sensors, payloads[:2000])
    alone = np.stack([s.predict(payloads[:2000]) for s in sensors])
    assert np.array_equal(together, alone)


def test_seen_ngram_is_never_reported_unseen():
    rng = np.random.default_rng(0)
    payloads = [bytes(rng.integers(0, 256, 40, dtype=np.uint8)) for _ in range(200)]
    assert NGramSensor(4, bloom_bits=2**12).fit(payloads).score(payloads).max() == 0.0


def test_score_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="fit"):
        NGramSensor().score([b"GET /"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"bloom_bits": 3000}, "power of two"), ({"threshold": 1.5}, "threshold"), ({"n_hashes": 0}, "n_hashes")],
)
def test_bad_hyperparameters_are_refused(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        NGramSensor(**kwargs)


def test_single_payload_instead_of_a_list_is_refused():
    with pytest.raises(InputTypeError, match="wrap a single payload"):
        NGramSensor().fit(b"GET / HTTP/1.1")


def test_non_bytes_payload_is_refused_naming_its_index():
    with pytest.raises(InputTypeError, match=r"payloads\[1\]"):
        NGramSensor().fit([b"ok", 3])
