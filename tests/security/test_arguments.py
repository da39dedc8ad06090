"""Hostile arguments and hostile models: BastionErrors, bounded buffers, checked answers."""

from __future__ import annotations

import pytest

from .conftest import PROBE_TIMEOUT_SECONDS, run_probes

SETUP = """
import numpy as np, torch
from bastion.models import BaseModel, TorchModel, zoo
from bastion.attacks import HopSkipJump, SquareAttack
from bastion.attacks.extraction import EquationSolving, KnockoffNets
shape = (1, 4, 4)
model = TorchModel(zoo.mlp(shape, 3, hidden=(8,), seed=0), input_shape=shape, n_classes=3)
x = np.random.default_rng(0).random((4, *shape), dtype=np.float32)

class Answers(BaseModel):
    # A user's model that answers whatever `answer(n)` gives.
    def __init__(self, answer, n_classes=3):
        super().__init__()
        self.n_classes, self.input_shape, self.clip, self._answer = n_classes, shape, (0.0, 1.0), answer
    def _predict_proba(self, x):
        return self._answer(len(x))
"""

# name -> (probe body, the outcome it must have: "bastion" or "ok")
PROBES = {
    # Inputs: validated before any cast.
    "x_booleans": ("model.predict(x > 0.5)", "bastion"),
    "x_complex": ("model.predict(x.astype(np.complex64))", "bastion"),
    "x_strings": ("model.predict(np.full((4, *shape), 'a'))", "bastion"),
    "x_objects": ("model.predict(np.array([object()] * 4))", "bastion"),
    "x_ragged_list": ("model.predict([[1.0], [1.0, 2.0]])", "bastion"),
    "x_datetimes": ("model.predict(np.zeros((4, *shape), 'datetime64[s]'))", "bastion"),
    "x_float64_overflowing_float32": ("model.predict(np.full((4, *shape), 1e300))", "bastion"),
    "x_zero_features": ("model.predict(np.zeros((4, 0)))", "bastion"),
    "x_dict": ("model.predict({'a': 1})", "bastion"),
    "x_tensor_requiring_grad": ("result = model.predict(torch.tensor(x, requires_grad=True)).tolist()", "ok"),
    "y_complex": ("model.loss_gradient(x, np.zeros(4, np.complex64))", "bastion"),
    "y_booleans": ("model.loss_gradient(x, np.zeros(4, bool))", "bastion"),
    "y_tensor_requiring_grad": (
        "result = model.loss_gradient(x, torch.zeros(4, requires_grad=True)).shape",
        "ok",
    ),
    # Models whose answers are wrong: refused at the adapter boundary, whatever uses them.
    "answers_too_wide": ("Answers(lambda n: np.full((n, 5), 0.2)).predict_proba(x)", "bastion"),
    "answers_too_wide_under_an_attack": (
        "SquareAttack(0.1, max_queries=20).generate(Answers(lambda n: np.full((n, 5), 0.2)), x, np.zeros(4, int))",
        "bastion",
    ),
    "answers_too_wide_under_extraction": (
        "KnockoffNets(x, seed=0).extract(Answers(lambda n: np.full((n, 5), 0.2)), budget=4)",
        "bastion",
    ),
    "answers_nan": ("Answers(lambda n: np.full((n, 3), np.nan)).predict(x)", "bastion"),
    "answers_nan_under_a_label_only_attack": (
        "HopSkipJump(max_queries=20).generate(Answers(lambda n: np.full((n, 3), np.nan)), x, np.zeros(4, int))",
        "bastion",
    ),
    "answers_not_summing_to_one": ("Answers(lambda n: np.full((n, 3), 0.9)).predict_proba(x)", "bastion"),
    "answers_negative": ("Answers(lambda n: np.tile([-1.0, 1.0, 1.0], (n, 1))).predict_proba(x)", "bastion"),
    "answers_strings": ("Answers(lambda n: [['a'] * 3] * n).predict_proba(x)", "bastion"),
    "answers_wrong_length": ("Answers(lambda n: np.full((n + 1, 3), 1 / 3)).predict_proba(x)", "bastion"),
    "torch_module_with_nan_weights": (
        "module = zoo.mlp(shape, 3, hidden=(8,), seed=0)\n"
        "torch.nn.init.constant_(module[1].weight, float('nan'))\n"
        "TorchModel(module, input_shape=shape, n_classes=3)",
        "bastion",
    ),
    "torch_module_wider_than_n_classes": (
        "TorchModel(zoo.mlp(shape, 5, hidden=(8,), seed=0), input_shape=shape, n_classes=3)",
        "bastion",
    ),
    "training_that_diverges": (
        "from bastion.models import fit\n"
        "fit(zoo.mlp(shape, 3, seed=0), x * 1e30, np.arange(4) % 3, epochs=3, lr=1e30, progress=False)",
        "bastion",
    ),
    # Hyperparameters that size buffers: bounded by the budget, or refused before allocating.
    "hopskipjump_1e9_probes_per_estimate": (
        "result = HopSkipJump(max_queries=60, n_initial_evals=10**9, max_evals=10**9).generate(model, x).shape",
        "ok",
    ),
    "equation_solving_budget_1e9": ("EquationSolving(seed=0).extract(model, budget=10**9)", "bastion"),
    "knockoff_sparse_group_ids": (
        "groups = np.array([0, 10**12, 5 * 10**11, 0])\n"
        "attack = KnockoffNets(x, sampling='adaptive', groups=groups, round_size=2, epochs=1, seed=0)\n"
        "result = attack.extract(model, budget=4).queries_used",
        "ok",
    ),
    "pate_labels_with_one_huge_value": (
        "from sklearn.tree import DecisionTreeClassifier\n"
        "from bastion.defenses.pate import PATE, LNMax\n"
        "pate = PATE(teacher_factory=DecisionTreeClassifier, n_teachers=2, aggregator=LNMax(1.0), backend='serial')\n"
        "pate.fit(np.eye(8), [0, 1, 0, 1, 0, 1, 0, 10**18])",
        "bastion",
    ),
    # The limits themselves.
    "limit_set_to_a_negative_value": ("bastion.limits.set_limits(max_bytes=-1)", "bastion"),
    "limit_unknown": ("bastion.limits.set_limits(max_memory=10)", "bastion"),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-arguments")
    probes = {"setup": SETUP + "import bastion.limits\nbastion.SETUP = dict(globals())"}
    for name, (body, _) in PROBES.items():
        probes[name] = "globals().update(bastion.SETUP)\n" + body
    return run_probes(probes, folder)


def test_the_probes_set_up(outcomes):
    assert outcomes["setup"].kind == "ok", outcomes["setup"].message


@pytest.mark.parametrize("name", sorted(PROBES))
def test_hostile_argument_ends_as_it_must(outcomes, name):
    expected = PROBES[name][1]
    outcome = outcomes[name]
    assert outcome.kind == expected, f"{name}: {outcome.kind} {outcome.type}\n{outcome.message}"
    assert outcome.seconds < PROBE_TIMEOUT_SECONDS, outcome.seconds
    assert outcome.max_rss_mib < 1024, outcome.max_rss_mib


def test_a_model_answering_too_many_classes_is_named_with_the_fix(outcomes):
    assert outcomes["answers_too_wide"].refused("ValidationError", "check its `n_classes`")


def test_divergence_names_the_learning_rate(outcomes):
    assert outcomes["training_that_diverges"].refused("ValidationError", "`lr`")


def test_buffers_beyond_the_limit_name_the_flag(outcomes):
    assert outcomes["equation_solving_budget_1e9"].refused("ValidationError", "--max-bytes")
