"""SquareAttack: a score-based black-box attack, on a CNN, on tables, against its budget."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from sklearn.svm import SVC

from bastion.attacks import PGD, SquareAttack, evaluate
from bastion.attacks.evasion.square import (
    _every_window,
    _logit_function,
    _moving_signs,
    _Proposals,
    _RejectedProposals,
    _window_origins,
    p_schedule,
    windmill,
)
from bastion.exceptions import CapabilityError, InputTypeError, ValidationError
from bastion.models import OnnxModel, SklearnModel, TorchModel


class Scale(torch.nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def robust_accuracy(model, x_adv, y) -> float:
    return float((model.predict(x_adv) == y).mean())


def test_linf_robust_accuracy_is_within_a_few_points_of_pgd_on_digits_cnn(digits, digits_cnn):
    x, y = digits.x_test[:40], digits.y_test[:40]

    square = evaluate(digits_cnn, SquareAttack(0.2, max_queries=1000), x, y)
    pgd = evaluate(digits_cnn, PGD(0.2, steps=20), x, y)

    assert square.clean_accuracy > 0.9
    assert square.robust_accuracy <= pgd.robust_accuracy + 0.05
    assert square.robust_accuracy <= 0.1
    assert square.perturbation_linf_max <= 0.2 + 1e-6


def test_l2_robust_accuracy_is_within_a_few_points_of_pgd_on_digits_cnn(digits, digits_cnn):
    x, y = digits.x_test[:20], digits.y_test[:20]

    square = evaluate(digits_cnn, SquareAttack(1.0, norm="2", max_queries=500), x, y)
    pgd = evaluate(digits_cnn, PGD(1.0, norm="2", steps=20), x, y)

    assert square.robust_accuracy <= pgd.robust_accuracy + 0.1
    assert square.robust_accuracy <= 0.5 * square.clean_accuracy
    assert square.perturbation_l2_max <= 1.0 + 1e-5


def test_linf_reaches_the_exact_worst_case_of_a_linear_model_on_a_table(breast_cancer, breast_cancer_logistic):
    # For a linear model the worst case in the L-inf ball is known: every feature at +-eps
    # against the true class. Square should find it on flat (d,) inputs.
    x, y = breast_cancer.x_test[:40], breast_cancer.y_test[:40]
    weights = breast_cancer_logistic.estimator.coef_[0]
    against = np.where(y[:, None] == 1, -np.sign(weights), np.sign(weights))
    worst = np.clip(x + 0.1 * against, 0, 1).astype(np.float32)

    x_adv = SquareAttack(0.1, max_queries=200).generate(breast_cancer_logistic, x, y)

    assert robust_accuracy(breast_cancer_logistic, x_adv, y) == robust_accuracy(breast_cancer_logistic, worst, y)
    assert robust_accuracy(breast_cancer_logistic, x_adv, y) < robust_accuracy(breast_cancer_logistic, x, y) - 0.3


def test_l2_works_on_flat_inputs(breast_cancer, breast_cancer_logistic):
    x, y = breast_cancer.x_test[:20], breast_cancer.y_test[:20]

    x_adv = SquareAttack(0.8, norm="2", max_queries=200).generate(breast_cancer_logistic, x, y)

    assert np.linalg.norm(x_adv - x, axis=1).max() <= 0.8 + 1e-5
    assert robust_accuracy(breast_cancer_logistic, x_adv, y) < robust_accuracy(breast_cancer_logistic, x, y) - 0.3


def test_works_on_an_onnx_model_through_its_scores(digits, digits_cnn):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            digits_cnn.module,
            torch.zeros(1, *digits.input_shape),
            buffer,
            dynamo=False,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
        )
    model = OnnxModel(buffer.getvalue(), clip=(0, 1))
    x, y = digits.x_test[:12], digits.y_test[:12]

    x_adv = SquareAttack(0.2, max_queries=200).generate(model, x, y)

    assert model.queries <= 12 * 200
    assert robust_accuracy(model, x_adv, y) <= 0.2


def test_cross_entropy_loss_also_breaks_digits_cnn(digits, digits_cnn):
    x, y = digits.x_test[:20], digits.y_test[:20]

    x_adv = SquareAttack(0.2, max_queries=400, loss="ce").generate(digits_cnn, x, y)

    assert robust_accuracy(digits_cnn, x_adv, y) <= 0.1


def test_targeted_mode_makes_the_model_predict_the_target(digits, digits_cnn):
    keep = np.flatnonzero(digits.y_test != 3)[:15]
    x, y = digits.x_test[keep], digits.y_test[keep]

    x_adv = SquareAttack(0.3, max_queries=500).generate(digits_cnn, x, y, target=3)

    assert np.mean(digits_cnn.predict(x_adv) == 3) >= 0.9


def test_unbroken_samples_spend_exactly_the_budget_when_every_proposal_is_asked(digits, digits_cnn):
    digits_cnn.reset_queries()

    SquareAttack(0.002, max_queries=30, skip_repeats=False).generate(digits_cnn, digits.x_test[:5], digits.y_test[:5])

    assert digits_cnn.queries == 5 * 30


@pytest.mark.parametrize("reference_windows", [False, True])
def test_skipping_repeated_proposals_finds_the_same_points_with_fewer_queries(digits, digits_cnn, reference_windows):
    x, y = digits.x_test[:12], digits.y_test[:12]
    runs = {}
    for skip in (False, True):
        digits_cnn.reset_queries()
        attack = SquareAttack(0.03, max_queries=600, reference_windows=reference_windows, skip_repeats=skip, seed=1)
        runs[skip] = (attack.generate(digits_cnn, x, y), digits_cnn.queries)

    np.testing.assert_array_equal(runs[True][0], runs[False][0])
    assert runs[True][1] < 0.5 * runs[False][1]


def test_a_rejected_proposal_is_asked_again_once_its_sample_has_moved_or_the_window_size_changed():
    small = _Proposals((1, 1), 4, 1, torch.tensor([0, 0]), torch.tensor([[1.0], [-1.0]]))
    rejected = _RejectedProposals()
    assert rejected.follow(small, 2)
    assert rejected.new(small.keys()).tolist() == [0, 1]
    assert rejected.new(small.keys()).tolist() == []

    rejected.forget(torch.tensor([True, False]))
    assert rejected.new(small.keys()).tolist() == [0]

    rejected.keep(torch.tensor([False, True]))
    second_row = _Proposals((1, 1), 4, 1, torch.tensor([0]), torch.tensor([[-1.0]]))
    assert rejected.follow(second_row, 1)
    assert rejected.new(second_row.keys()).tolist() == []

    larger = _Proposals((2, 2), 1, 1, torch.tensor([0]), torch.tensor([[-1.0]]))
    assert rejected.follow(larger, 1)
    assert rejected.new(larger.keys()).tolist() == [0]


def test_broken_samples_stop_querying(digits, digits_cnn):
    digits_cnn.reset_queries()

    SquareAttack(0.3, max_queries=1000).generate(digits_cnn, digits.x_test[:10], digits.y_test[:10])

    assert digits_cnn.queries < 10 * 1000 / 4


def test_label_only_model_is_refused_naming_scores(breast_cancer):
    svc = SklearnModel(SVC(kernel="linear").fit(breast_cancer.x_train, breast_cancer.y_train))

    with pytest.raises(CapabilityError, match="SquareAttack needs a model with 'scores'"):
        SquareAttack(0.1).generate(svc, breast_cancer.x_test[:2])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"eps": -0.1}, ValidationError, r"`eps` must be a float in \[0, inf\), got -0.1"),
        ({"eps": 0.1, "max_queries": 0}, ValidationError, r"`max_queries` must be an int in \[1, inf\), got 0"),
        ({"eps": 0.1, "max_queries": 2.5}, InputTypeError, r"`max_queries` must be an int"),
        ({"eps": 0.1, "p_init": 0.0}, ValidationError, r"`p_init` must be a float in \(0, 1\], got 0.0"),
        ({"eps": 0.1, "p_init": 1.5}, ValidationError, r"`p_init` must be a float in \(0, 1\], got 1.5"),
        ({"eps": 0.1, "norm": "1"}, ValidationError, r"`norm` must be one of 'inf', '2', got '1'"),
        ({"eps": 0.1, "loss": "dlr"}, ValidationError, r"`loss` must be one of 'margin', 'ce', got 'dlr'"),
        ({"eps": 0.1, "seed": -1}, ValidationError, r"`seed` must be an int"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        SquareAttack(**kwargs)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_same_seed_gives_the_same_result_and_another_seed_another(digits, digits_cnn, norm):
    x, y = digits.x_test[:6], digits.y_test[:6]
    eps = 0.05 if norm == "inf" else 0.3

    first = SquareAttack(eps, norm=norm, max_queries=40, seed=1).generate(digits_cnn, x, y)
    again = SquareAttack(eps, norm=norm, max_queries=40, seed=1).generate(digits_cnn, x, y)
    other = SquareAttack(eps, norm=norm, max_queries=40, seed=2).generate(digits_cnn, x, y)

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_zero_eps_returns_the_input_without_querying(digits, digits_cnn):
    digits_cnn.reset_queries()

    x_adv = SquareAttack(0.0).generate(digits_cnn, digits.x_test[:3], digits.y_test[:3])

    np.testing.assert_array_equal(x_adv, digits.x_test[:3])
    assert digits_cnn.queries == 0


def test_p_schedule_halves_at_the_authors_iterations_rescaled_to_the_budget():
    # The authors' breakpoints 10, 50, 200 of 10,000 iterations are 1, 5, 20 of 1,000.
    values = [p_schedule(0.8, i, 1000) for i in (0, 1, 2, 5, 6, 20, 21, 999)]

    assert values == [0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.1, 0.8 / 512]


def test_windmill_has_unit_norm_and_opposite_halves():
    pattern = windmill(5, 5)

    assert float(pattern.norm()) == pytest.approx(1.0)
    assert float(pattern[:2].sum()) > 0 > float(pattern[2:].sum())


def test_eps_below_float32_resolution_terminates_within_the_budget(digits, digits_cnn):
    digits_cnn.reset_queries()

    x_adv = SquareAttack(1e-9, max_queries=3).generate(digits_cnn, digits.x_test[:2], digits.y_test[:2])

    assert np.abs(x_adv - digits.x_test[:2]).max() <= 1e-6
    assert digits_cnn.queries <= 2 * 3


def test_margin_on_logits_does_not_go_flat_on_a_saturated_model(digits, digits_cnn):
    # Logits 1,000 times larger saturate the float32 softmax, but rank every candidate the same.
    saturated = TorchModel(
        torch.nn.Sequential(digits_cnn.module, Scale(1000.0)), input_shape=digits.input_shape, n_classes=10
    )
    x, y = digits.x_test[:30], digits.y_test[:30]
    attack = SquareAttack(0.1, max_queries=100)

    plain = robust_accuracy(digits_cnn, attack.generate(digits_cnn, x, y), y)
    scaled = robust_accuracy(saturated, attack.generate(saturated, x, y), y)

    assert torch.softmax(saturated.logits_tensor(torch.as_tensor(x)), dim=1).amax(dim=1).eq(1.0).float().mean() > 0.5
    assert abs(scaled - plain) <= 1 / 30


def test_scores_only_models_get_finite_float64_log_probabilities():
    class Saturated:
        capabilities = frozenset({"labels", "scores"})

        def predict(self, x):
            return np.zeros(len(x), dtype=np.int64)

        def predict_proba(self, x):
            return np.array([[1.0, 1e-40, 0.0]], dtype=np.float32).repeat(len(x), axis=0)

    values = _logit_function(Saturated())(torch.zeros(2, 3))

    assert values.dtype == torch.float64 and torch.isfinite(values).all()
    assert values[0, 0] > values[0, 1] > values[0, 2]


@pytest.mark.parametrize(("reference", "largest"), [(False, 2), (True, 1)])
def test_window_origins_cover_every_position_unless_drawn_as_the_reference_code(reference, largest):
    rows, cols = _window_origins(2000, (6, 6), (8, 8), torch.Generator().manual_seed(0), reference)

    assert int(rows.max()) == largest and int(cols.max()) == largest
    assert int(rows.min()) == 0


def test_reference_windows_is_a_weaker_search_on_8x8_digits(digits, digits_cnn):
    x, y = digits.x_test[:60], digits.y_test[:60]

    paper = robust_accuracy(digits_cnn, SquareAttack(0.08, max_queries=200).generate(digits_cnn, x, y), y)
    reference = SquareAttack(0.08, max_queries=200, reference_windows=True).generate(digits_cnn, x, y)

    assert paper <= robust_accuracy(digits_cnn, reference, y)


def test_linf_update_signs_always_change_the_input_and_are_uniform_over_those_that_do():
    # Rejection sampling of the authors' redraw loop: a channel whose window cannot move up
    # (down) must get -1 (+1) when it is the only channel; with both free the sign is a coin flip.
    generator = torch.Generator().manual_seed(0)
    moves_up = torch.tensor([[False], [True], [True]]).repeat(2000, 1)
    moves_down = torch.tensor([[True], [False], [True]]).repeat(2000, 1)

    signs = _moving_signs(moves_up, moves_down, generator)

    assert (torch.where(signs > 0, moves_up, moves_down).any(dim=1)).all()
    assert (signs[0::3] == -1).all() and (signs[1::3] == 1).all()
    assert 0.45 < (signs[2::3] > 0).float().mean() < 0.55


@pytest.mark.parametrize(("reference", "positions"), [(False, 9), (True, 4)])
def test_every_window_holds_each_position_the_origins_can_take_once(reference, positions):
    windows = _every_window((6, 6), (8, 8), reference)

    assert windows.shape == (positions, 1, 8, 8)
    assert (windows.sum(dim=(1, 2, 3)) == 36).all()
    assert len({tuple(mask.flatten().tolist()) for mask in windows}) == positions
    assert bool(windows[:, 0, 7, 7].any()) is not reference
