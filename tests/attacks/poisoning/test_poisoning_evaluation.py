from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bastion.attacks.poisoning import Backdoor, LabelFlip, evaluate_poisoning
from bastion.exceptions import InputTypeError, ValidationError

from .conftest import logistic_train_fn


def test_label_flip_result_reports_accuracy_drop_against_clean(digits_small):
    poisoned = LabelFlip(0.2, strategy="targeted", source_class=1, target_class=2).poison(digits_small)
    result = evaluate_poisoning(poisoned, logistic_train_fn, clean=digits_small)
    assert result.accuracy_drop == pytest.approx(result.clean_test_accuracy - result.test_accuracy)
    assert result.per_class_accuracy[1] < result.clean_per_class_accuracy[1]
    assert result.attack_success_rate is None and result.n_poison == poisoned.n_poison
    assert len(result.per_class_accuracy) == 4


def test_backdoor_result_has_attack_success_and_its_clean_baseline(digits_small):
    poisoned = Backdoor(0.1, target_class=3, patch_size=3).poison(digits_small)
    result = evaluate_poisoning(poisoned, logistic_train_fn, clean=digits_small)
    assert 0 <= result.clean_attack_success_rate < result.attack_success_rate <= 1


def test_plain_dataset_is_scored_as_unpoisoned(digits_small):
    result = evaluate_poisoning(digits_small, logistic_train_fn)
    assert result.n_poison == 0 and result.attack == "" and result.clean_test_accuracy is None
    assert result.test_accuracy > 0.9


def test_result_is_json_ready(digits_small):
    result = evaluate_poisoning(LabelFlip(0.1).poison(digits_small), logistic_train_fn)
    record = json.loads(json.dumps(result.to_dict()))
    assert record["n_train"] == len(digits_small.y_train)
    assert not any(isinstance(v, float) and math.isnan(v) for v in record["per_class_accuracy"])


def test_train_fn_returning_no_model_is_refused(digits_small):
    with pytest.raises(InputTypeError, match="`train_fn` must return a bastion Model"):
        evaluate_poisoning(digits_small, lambda dataset: None)


def test_clean_with_another_test_split_is_refused(digits_small, breast_cancer):
    with pytest.raises(ValidationError, match="`clean` must share"):
        evaluate_poisoning(digits_small, logistic_train_fn, clean=breast_cancer)


def test_non_dataset_is_refused():
    with pytest.raises(InputTypeError, match="`poisoned`"):
        evaluate_poisoning(np.zeros((2, 2)), logistic_train_fn)
