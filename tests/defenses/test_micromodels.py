from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pytest

from bastion.attacks.poisoning import PoisonedDataset
from bastion.data import TrafficStream
from bastion.defenses import MicroModels
from bastion.defenses.sanitization import CleaningResult
from bastion.exceptions import InputTypeError, NotFittedError, ValidationError
from bastion.sensors import LabelDisagreementSensor, NGramSensor, PAYLSensor


@pytest.fixture(scope="module")
def cleaned(traffic_train):
    micro = MicroModels(NGramSensor, slice_size=500, backend="serial")
    return micro, micro.clean(traffic_train)


def test_sanitized_sensor_detects_the_family_the_poisoned_sensor_learned(cleaned, traffic_train, traffic_test):
    # Traversal campaigns in the training stream teach the unsanitized sensor their n-grams.
    micro, _ = cleaned
    attacks = traffic_test.payloads[traffic_test.is_attack]
    unsanitized = NGramSensor().fit(traffic_train.payloads).predict(attacks).mean()
    sanitized = micro.sanitized_model_.predict(attacks).mean()
    assert unsanitized < 0.5
    assert sanitized > 0.8


def test_sanitizing_does_not_raise_false_positives_much(cleaned, traffic_train, traffic_test):
    micro, _ = cleaned
    normal = traffic_test.payloads[~traffic_test.is_attack]
    unsanitized = NGramSensor().fit(traffic_train.payloads).predict(normal).mean()
    assert micro.sanitized_model_.predict(normal).mean() <= unsanitized + 0.01


def test_removal_is_scored_against_the_ground_truth(cleaned, traffic_train):
    _, result = cleaned
    assert isinstance(result, CleaningResult)
    assert np.array_equal(result.poison_mask, traffic_train.is_attack)
    assert result.recall > 0.8
    assert result.precision > 0.3
    assert isinstance(result.dataset, TrafficStream)
    assert len(result.dataset) == len(traffic_train) - result.n_removed


def test_scores_are_the_share_of_micro_models_flagging(cleaned):
    micro, result = cleaned
    assert len(micro.micro_models_) == 12
    assert np.allclose(result.scores, micro.votes_.mean(axis=0))
    assert np.array_equal(result.removed_mask, result.scores > 0.5)


def test_threshold_one_removes_nothing_and_zero_removes_any_flagged(traffic_train):
    none = MicroModels(NGramSensor, n_slices=4, vote_threshold=1.0, backend="serial").clean(traffic_train)
    anything = MicroModels(NGramSensor, n_slices=4, vote_threshold=0.0, backend="serial").clean(traffic_train)
    assert none.n_removed == 0
    assert anything.n_removed > 0


def test_local_backend_gives_the_serial_result(traffic_train):
    serial = MicroModels(NGramSensor, n_slices=4, backend="serial").clean(traffic_train)
    local = MicroModels(NGramSensor, n_slices=4, backend="local", n_workers=2).clean(traffic_train)
    assert np.array_equal(serial.removed_mask, local.removed_mask)
    assert np.array_equal(serial.scores, local.scores)


def test_time_slices_weighted_by_size(traffic_train):
    micro = MicroModels(NGramSensor, slice_seconds=600, weighted=True, backend="serial")
    result = micro.clean(traffic_train)
    sizes = np.array([len(rows) for rows in micro.slices_], dtype=float)
    assert len(micro.slices_) == 10  # 6,000 s of traffic in 600 s windows
    assert np.allclose(result.scores, sizes @ micro.votes_ / sizes.sum())


def test_works_with_a_second_sensor_from_a_partial(traffic_train):
    factory = functools.partial(PAYLSensor, quantile=0.95)
    result = MicroModels(factory, slice_size=1000, backend="serial").clean(traffic_train)
    assert result.recall > 0.5


def test_shadow_recognises_held_out_attacks_more_than_normal_traffic(cleaned, traffic_test):
    micro, _ = cleaned
    recognised = micro.recognise(traffic_test.payloads)
    assert recognised[traffic_test.is_attack].mean() > recognised[~traffic_test.is_attack].mean() + 0.3


def test_cleans_a_classification_dataset_with_flipped_labels(digits):
    rng = np.random.default_rng(0)
    flip = rng.random(len(digits.y_train)) < 0.1
    y = np.where(flip, (digits.y_train + 1 + rng.integers(0, 9, len(flip))) % 10, digits.y_train)
    poisoned = PoisonedDataset(**{**digits.__dict__, "y_train": y}, poison_mask=flip, attack="flip")
    result = MicroModels(LabelDisagreementSensor, n_slices=5, backend="serial").clean(poisoned)
    assert result.recall > 0.9 and result.precision > 0.5
    assert result.dataset.poison_mask.sum() < flip.sum()


def test_more_slices_than_instances_is_refused_as_empty_slices(traffic_train):
    small = traffic_train.select(np.arange(5))
    with pytest.raises(ValidationError, match="empty"):
        MicroModels(NGramSensor, n_slices=8, backend="serial").clean(small)


def test_one_slice_is_refused(traffic_train):
    with pytest.raises(ValidationError, match="at least 2"):
        MicroModels(NGramSensor, slice_size=10_000, backend="serial").clean(traffic_train)


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_threshold_outside_unit_interval_is_refused(threshold):
    with pytest.raises(ValidationError, match=r"vote_threshold.*\[0, 1\]"):
        MicroModels(NGramSensor, vote_threshold=threshold)


def test_two_slicings_are_refused():
    with pytest.raises(ValidationError, match="one of"):
        MicroModels(NGramSensor, slice_size=100, n_slices=4)


def test_time_slices_of_a_dataset_are_refused(digits):
    with pytest.raises(ValidationError, match="timestamps"):
        MicroModels(LabelDisagreementSensor, slice_seconds=60, backend="serial").clean(digits)


def test_lambda_factory_on_local_backend_is_refused(traffic_train):
    with pytest.raises(InputTypeError, match="picklable"):
        MicroModels(lambda: NGramSensor(), n_slices=2, backend="local", n_workers=2).clean(traffic_train)


def test_non_callable_factory_and_bad_data_are_refused(traffic_train):
    with pytest.raises(InputTypeError, match="sensor_factory"):
        MicroModels(NGramSensor())
    with pytest.raises(InputTypeError, match="TrafficStream"):
        MicroModels(NGramSensor, backend="serial").clean(list(traffic_train.payloads))


def test_recognise_before_clean_raises_not_fitted():
    with pytest.raises(NotFittedError):
        MicroModels(NGramSensor).recognise([b"GET /"])


@pytest.mark.parametrize("page", ["docs/micromodels.md", "README.md"])
def test_documented_examples_run(page, capsys):
    text = (Path(__file__).resolve().parents[2] / page).read_text()
    if page == "README.md":
        text = text.split("## Poisoning: sanitizing", 1)[1]
    code = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)
    exec(compile(code, page, "exec"), {})
    assert capsys.readouterr().out.strip()
