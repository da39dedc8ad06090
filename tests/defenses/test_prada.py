"""PRADA (Juuti et al. 2019): Jacobian-augmentation queries flagged, natural queries not."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.attacks.extraction import JacobianAugmentation
from bastion.defenses import PRADA
from bastion.exceptions import ValidationError
from bastion.models import BaseModel


class _Recorder(BaseModel):
    """Forwards labels to a model and keeps every query, in order."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.n_classes, self.input_shape, self.clip = model.n_classes, model.input_shape, model.clip
        self.capabilities = model.capabilities
        self.sent: list[np.ndarray] = []

    def _predict_proba(self, x):
        self.sent.append(x.copy())
        return self.model.predict_proba(x)


def test_prada_flags_jacobian_augmentation_within_a_few_hundred_queries(digits, digits_mlp):
    recorder = _Recorder(digits_mlp)
    seeds = digits.x_test[np.random.default_rng(0).choice(len(digits.x_test), 20, replace=False)]
    JacobianAugmentation(seeds, rounds=4, epochs=3).extract(recorder, budget=320, x_eval=digits.x_test[:20])
    queries = np.concatenate(recorder.sent)[:320]
    status = PRADA().observe(queries, digits_mlp.predict(queries), client="thief")
    assert status.alert
    assert status.first_alert_query <= 300
    assert status.shapiro_w < 0.9


def test_prada_raises_no_alert_for_natural_test_images(digits, digits_mlp):
    x = digits.x_test[np.random.default_rng(1).permutation(len(digits.x_test))]
    status = PRADA().observe(x, digits_mlp.predict(x), client="benign")
    assert not status.alert
    assert status.first_alert_query is None
    assert status.shapiro_w > 0.9


def test_prada_keeps_clients_apart(digits, digits_mlp):
    prada = PRADA()
    x = digits.x_test[:30]
    prada.observe(x, digits_mlp.predict(x), client="a")
    assert prada.status("a").queries == 30
    assert prada.status("b").queries == 0
    assert prada.clients == ["a"]


def test_prada_bounds_the_growing_set_and_distances_per_class(rng):
    prada = PRADA(max_set_size=5, max_distances=20)
    x = rng.uniform(size=(300, 16)).astype(np.float32)
    status = prada.observe(x, np.zeros(300, dtype=np.int64), client="a")
    assert status.distances == 20
    assert prada._clients["a"].members[0] == 5


def test_prada_is_deterministic_for_the_same_stream(digits, digits_mlp):
    x = digits.x_test[:200]
    labels = digits_mlp.predict(x)
    assert PRADA().observe(x, labels) == PRADA().observe(x, labels)


def test_prada_refuses_labels_of_another_length(digits):
    with pytest.raises(ValidationError, match=r"`labels`"):
        PRADA().observe(digits.x_test[:5], np.zeros(4, dtype=np.int64))


def test_prada_refuses_delta_outside_the_unit_interval():
    with pytest.raises(ValidationError, match=r"`delta`"):
        PRADA(1.5)
