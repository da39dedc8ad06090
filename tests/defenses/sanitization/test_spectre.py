from __future__ import annotations

import numpy as np
import pytest

from bastion.attacks.poisoning import Backdoor, evaluate_poisoning
from bastion.defenses.sanitization import SPECTRE
from bastion.defenses.sanitization.spectre import best_split, que_scores, robust_whiten
from bastion.exceptions import ValidationError
from bastion.models import TorchModel, fit, zoo


def _cnn(dataset):
    module = zoo.small_cnn(dataset.input_shape, dataset.n_classes, seed=0)
    fit(module, dataset.x_train, dataset.y_train, epochs=10, lr=3e-3, seed=0, progress=False)
    return TorchModel(module, input_shape=dataset.input_shape, n_classes=dataset.n_classes)


def test_class_scores_put_a_far_minority_on_top(planted):
    features, labels, poison = planted
    rows = labels == 0
    scores = SPECTRE().class_scores(features[rows])
    assert scores[poison[rows]].min() > 5 * np.sort(scores[~poison[rows]])[-1]


def test_robust_whitening_makes_the_majority_isotropic():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 3)) * [1.0, 5.0, 0.2]
    features[:40] += [30.0, 0.0, 0.0]
    whitened = robust_whiten(features, seed=0)[40:]
    np.testing.assert_allclose(np.cov(whitened.T), np.eye(3), atol=0.3)
    scores = que_scores(robust_whiten(features, seed=0), alpha=4.0)
    assert scores[:40].min() > scores[40:].max()


def test_best_split_finds_the_separate_top_group():
    scores = np.r_[np.full(7, 100.0), np.linspace(0.5, 2.0, 50)]
    assert best_split(scores, 1, 28) == 7


def test_backdoor_is_removed_and_attack_success_falls(digits_small):
    poisoned = Backdoor(0.05, target_class=0).poison(digits_small)
    sanitizer = SPECTRE(epochs=10, lr=3e-3)
    result = sanitizer.clean(poisoned)
    assert result.recall >= 0.95 and result.clean_removed_fraction <= 0.05
    assert sanitizer.contamination_[0] > 0
    after = evaluate_poisoning(result.dataset, _cnn)
    assert after.attack_success_rate <= 0.05
    assert after.test_accuracy >= 0.95


def test_bad_agreement_is_refused():
    with pytest.raises(ValidationError, match="`agreement`"):
        SPECTRE(agreement=0)
