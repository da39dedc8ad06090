"""The contract every evasion attack exported from ``bastion.attacks.evasion`` keeps.

Each attack runs with a small budget on tiny models built here, with hypothesis drawing
the data, the valid input range, the preprocessing and the budget eps:

- the result lies inside the eps-ball (bounded attacks) and inside ``model.clip``;
- it is float32 and has the input's shape;
- the same seed gives the same result;
- the model's parameters are untouched;
- the model's query counter increases, and attacks with a query budget (``max_queries``)
  never spend more than it per sample, on a batch or one sample at a time, also through a
  label-only view for label-only attacks;
- bad hyperparameters and models without the needed capability are refused clearly.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.attacks.evasion.conftest import build_tiny_model, tiny_inputs

import bastion.attacks.evasion as evasion
from bastion.attacks.evasion.base import EvasionAttack
from bastion.exceptions import CapabilityError, ValidationError
from bastion.models import LabelOnly
from bastion.models.base import GRADIENTS, LABELS

ATTACK_CLASSES = sorted(
    (
        value
        for value in (getattr(evasion, name) for name in evasion.__all__)
        if inspect.isclass(value) and issubclass(value, EvasionAttack) and value is not EvasionAttack
    ),
    key=lambda cls: cls.__name__,
)

# Small budgets, by keyword: an attack gets those its constructor takes.
SMALL_BUDGET = {
    "steps": 3,
    "binary_search_steps": 2,
    "max_queries": 40,
    "max_iterations": 2,
    "n_initial_evals": 8,
    "max_evals": 16,
    "init_trials": 20,
}

CONTRACT = settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

ranges = st.sampled_from([(0.0, 1.0), (-1.0, 2.0)])
preprocessings = st.sampled_from([None, (0.5, 0.25)])


def takes(cls: type, name: str) -> bool:
    return name in inspect.signature(cls).parameters


def small(cls: type, *, eps: float = 0.1, seed: int = 0) -> EvasionAttack:
    """``cls`` with a small budget, radius ``eps`` (if bounded) and ``seed`` (if random)."""
    parameters = inspect.signature(cls).parameters
    kwargs = {name: value for name, value in SMALL_BUDGET.items() if name in parameters}
    if "eps" in parameters:
        kwargs["eps"] = eps
    if "seed" in parameters:
        kwargs["seed"] = seed
    return cls(**kwargs)


def test_every_exported_attack_is_covered():
    names = {cls.__name__ for cls in ATTACK_CLASSES}

    assert {"FGSM", "PGD", "APGD", "CarliniWagnerL2"} <= names


@pytest.mark.parametrize("cls", ATTACK_CLASSES, ids=lambda cls: cls.__name__)
@CONTRACT
@given(
    clip=ranges,
    preprocessing=preprocessings,
    eps_fraction=st.floats(0.01, 0.3),
    n=st.integers(1, 5),
    data_seed=st.integers(0, 2**16),
)
def test_result_lies_in_the_ball_and_the_range(cls, clip, preprocessing, eps_fraction, n, data_seed):
    model = build_tiny_model(clip=clip, preprocessing=preprocessing)
    x = tiny_inputs(model, n, seed=data_seed)
    attack = small(cls, eps=eps_fraction * (clip[1] - clip[0]))

    x_adv = attack.generate(model, x)

    assert x_adv.min() >= clip[0] and x_adv.max() <= clip[1]
    if attack.eps is not None:
        delta = (x_adv - x).reshape(n, -1).astype(np.float64)
        size = np.abs(delta).max(axis=1) if attack.norm == "inf" else np.linalg.norm(delta, axis=1)
        assert size.max() <= attack.eps * (1 + 1e-5) + 1e-6


@pytest.mark.parametrize("cls", ATTACK_CLASSES, ids=lambda cls: cls.__name__)
@CONTRACT
@given(n=st.integers(1, 5), data_seed=st.integers(0, 2**16), as_float64=st.booleans())
def test_result_is_float32_of_the_input_shape(cls, n, data_seed, as_float64):
    model = build_tiny_model()
    x = tiny_inputs(model, n, seed=data_seed)

    x_adv = small(cls).generate(model, x.astype(np.float64) if as_float64 else x)

    assert x_adv.dtype == np.float32
    assert x_adv.shape == x.shape


@pytest.mark.parametrize("cls", ATTACK_CLASSES, ids=lambda cls: cls.__name__)
@CONTRACT
@given(seed=st.integers(0, 2**32 - 1), data_seed=st.integers(0, 2**16))
def test_same_seed_gives_the_same_result(cls, seed, data_seed):
    model = build_tiny_model()
    x = tiny_inputs(model, 4, seed=data_seed)

    first = small(cls, seed=seed).generate(model, x)
    again = small(cls, seed=seed).generate(model, x)

    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("cls", ATTACK_CLASSES, ids=lambda cls: cls.__name__)
@CONTRACT
@given(model_seed=st.integers(0, 100), data_seed=st.integers(0, 2**16))
def test_model_parameters_are_untouched(cls, model_seed, data_seed):
    model = build_tiny_model(seed=model_seed)
    before = {name: value.clone() for name, value in model.module.state_dict().items()}

    small(cls).generate(model, tiny_inputs(model, 4, seed=data_seed))

    after = model.module.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert all(parameter.grad is None for parameter in model.module.parameters())
    assert not model.module.training


@pytest.mark.parametrize("cls", ATTACK_CLASSES, ids=lambda cls: cls.__name__)
@CONTRACT
@given(n=st.integers(1, 5), data_seed=st.integers(0, 2**16))
def test_query_counter_increases(cls, n, data_seed):
    model = build_tiny_model()
    x = tiny_inputs(model, n, seed=data_seed)

    small(cls).generate(model, x)

    assert model.queries >= n


BUDGETED = [c for c in ATTACK_CLASSES if takes(c, "max_queries")]


@pytest.mark.parametrize("cls", BUDGETED, ids=lambda cls: cls.__name__)
@CONTRACT
@given(n=st.integers(1, 4), data_seed=st.integers(0, 2**16))
def test_queries_per_sample_never_exceed_the_budget(cls, n, data_seed):
    model = build_tiny_model()
    x = tiny_inputs(model, n, seed=data_seed)
    y = model.predict(x)
    attack = small(cls)

    model.reset_queries()
    attack.generate(model, x, y)
    assert n <= model.queries <= n * attack.max_queries
    for i in range(n):
        model.reset_queries()
        attack.generate(model, x[i : i + 1], y[i : i + 1])
        assert 1 <= model.queries <= attack.max_queries


@pytest.mark.parametrize("cls", [c for c in BUDGETED if c.requires == LABELS], ids=lambda cls: cls.__name__)
def test_queries_per_sample_never_exceed_the_budget_on_a_label_only_model(cls):
    model = LabelOnly(build_tiny_model())
    x = tiny_inputs(model, 4, seed=0)
    y = model.predict(x)
    attack = small(cls)

    model.reset_queries()
    attack.generate(model, x, y)

    assert 4 <= model.queries <= 4 * attack.max_queries


@pytest.mark.parametrize("cls", [c for c in ATTACK_CLASSES if takes(c, "eps")], ids=lambda cls: cls.__name__)
def test_negative_eps_is_refused(cls):
    with pytest.raises(ValidationError, match=r"`eps` must be a float in \[0, inf\), got -0.1"):
        small(cls, eps=-0.1)


@pytest.mark.parametrize("cls", [c for c in ATTACK_CLASSES if takes(c, "norm")], ids=lambda cls: cls.__name__)
def test_unknown_norm_is_refused(cls):
    kwargs = {"eps": 0.1} if takes(cls, "eps") else {}

    with pytest.raises(ValidationError, match=r"`norm` must be one of"):
        cls(norm="L7", **kwargs)


@pytest.mark.parametrize("cls", [c for c in ATTACK_CLASSES if c.requires == GRADIENTS], ids=lambda cls: cls.__name__)
def test_gradient_attacks_refuse_black_box_models(cls, breast_cancer, breast_cancer_logistic):
    with pytest.raises(CapabilityError, match=f"{cls.__name__} needs a model with 'gradients'"):
        small(cls).generate(breast_cancer_logistic, breast_cancer.x_test[:2])


@pytest.mark.parametrize("cls", ATTACK_CLASSES, ids=lambda cls: cls.__name__)
def test_inputs_outside_the_range_are_refused(cls):
    model = build_tiny_model()
    x = tiny_inputs(model, 2, seed=0)
    x[1, 0, 2, 2] = -0.5

    with pytest.raises(ValidationError, match=r"`x` must lie in the model's input range"):
        small(cls).generate(model, x)
