"""The contract every membership attack registered in ``bastion.attacks.inference.ATTACKS`` keeps.

Each attack runs against a scikit-learn logistic regression on breast_cancer with small
budgets (its shadow or reference models are clones of it, trained in milliseconds):

- ``fit`` returns the attack; ``score`` returns one float64 score per record;
- the same seed gives the same scores;
- scoring counts the target's queries;
- attacks that prepare refuse ``score`` before ``fit``;
- a label-only model, inputs outside the range and mismatched labels are refused clearly.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from bastion.attacks.inference import ATTACKS, train_like
from bastion.exceptions import CapabilityError, NotFittedError, ValidationError
from bastion.models import LabelOnly

NAMES = sorted(ATTACKS)
# Small budgets, by keyword: an attack gets those its constructor takes.
SMALL = {"n_shadow": 2, "shadow_size": 40, "n_reference": 2, "reference_size": 40, "progress": False}


def build(name, target, *, seed=0):
    cls = ATTACKS[name]
    parameters = inspect.signature(cls).parameters
    kwargs = {key: value for key, value in SMALL.items() if key in parameters}
    if "train_fn" in parameters:
        kwargs["train_fn"] = train_like(target)
    if "seed" in parameters:
        kwargs["seed"] = seed
    return cls(**kwargs)


def fitted(name, target, data, *, seed=0):
    return build(name, target, seed=seed).fit(target, data.x_test[:80], data.y_test[:80])


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_the_attack_and_score_one_float64_per_record(name, breast_cancer, breast_cancer_logistic):
    attack = build(name, breast_cancer_logistic)

    assert attack.fit(breast_cancer_logistic, breast_cancer.x_test[:80], breast_cancer.y_test[:80]) is attack
    scores = attack.score(breast_cancer_logistic, breast_cancer.x_train[:12], breast_cancer.y_train[:12])

    assert scores.shape == (12,) and scores.dtype == np.float64
    assert np.all(np.isfinite(scores))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_scores(name, breast_cancer, breast_cancer_logistic):
    x, y = breast_cancer.x_train[:12], breast_cancer.y_train[:12]

    first = fitted(name, breast_cancer_logistic, breast_cancer, seed=3).score(breast_cancer_logistic, x, y)
    again = fitted(name, breast_cancer_logistic, breast_cancer, seed=3).score(breast_cancer_logistic, x, y)

    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("name", NAMES)
def test_scoring_counts_the_target_queries(name, breast_cancer, breast_cancer_logistic):
    attack = fitted(name, breast_cancer_logistic, breast_cancer)
    before = breast_cancer_logistic.queries

    attack.score(breast_cancer_logistic, breast_cancer.x_train[:12], breast_cancer.y_train[:12])

    assert breast_cancer_logistic.queries - before >= 12


@pytest.mark.parametrize("name", [name for name in NAMES if ATTACKS[name].needs_fit])
def test_attacks_that_prepare_refuse_to_score_before_fit(name, breast_cancer, breast_cancer_logistic):
    with pytest.raises(NotFittedError, match="must be fitted before scoring"):
        build(name, breast_cancer_logistic).score(
            breast_cancer_logistic, breast_cancer.x_train[:4], breast_cancer.y_train[:4]
        )


@pytest.mark.parametrize("name", NAMES)
def test_label_only_models_are_refused_naming_scores(name, breast_cancer, breast_cancer_logistic):
    attack = build(name, breast_cancer_logistic)

    with pytest.raises(CapabilityError, match="'scores'"):
        attack.fit(LabelOnly(breast_cancer_logistic), breast_cancer.x_test[:80], breast_cancer.y_test[:80])


@pytest.mark.parametrize("name", NAMES)
def test_inputs_outside_the_range_and_bad_labels_are_refused(name, breast_cancer, breast_cancer_logistic):
    attack = fitted(name, breast_cancer_logistic, breast_cancer)
    x, y = breast_cancer.x_train[:4].copy(), breast_cancer.y_train[:4]
    x[0, 0] = 2.0

    with pytest.raises(ValidationError, match="`x` must lie in the model's input range"):
        attack.score(breast_cancer_logistic, x, y)
    with pytest.raises(ValidationError, match="`y`"):
        attack.score(breast_cancer_logistic, breast_cancer.x_train[:4], y[:3])
