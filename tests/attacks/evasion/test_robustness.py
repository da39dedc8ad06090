"""robustness(): per-sample worst case over an ensemble, eps grid, findings, plot and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bastion.attacks import (
    APGD,
    APGDT,
    FAB,
    FGSM,
    PGD,
    RobustnessFinding,
    RobustnessResult,
    SquareAttack,
    evaluate,
    robustness,
)
from bastion.attacks.evasion.robustness import default_attacks
from bastion.exceptions import InputTypeError, ValidationError
from bastion.models import TorchModel
from bastion.plots import plot_robustness

SMALL_ENSEMBLE = {
    "apgd-ce": lambda eps: APGD(eps, steps=20, loss="ce"),
    "apgd-dlr": lambda eps: APGD(eps, steps=20, loss="dlr"),
    "square": lambda eps: SquareAttack(eps, max_queries=100),
}


class Teleport:
    """A fake attack that replaces every input by a fixed input of another class."""

    requires = "labels"

    def __init__(self, destination: np.ndarray) -> None:
        self.destination = destination

    def generate(self, model, x, y=None, *, target=None):
        return np.repeat(self.destination[None], len(x), axis=0)


@pytest.fixture(scope="module")
def batch(digits):
    return digits.x_test[:60], digits.y_test[:60]


@pytest.fixture(scope="module")
def undefended(digits_cnn, batch) -> RobustnessResult:
    x, y = batch
    return robustness(digits_cnn, x, y, eps_grid=[0.2, 0.0, 0.05], attacks=SMALL_ENSEMBLE)


def test_undefended_model_loses_almost_all_accuracy_at_eps_0_2(undefended):
    assert undefended.robust_accuracy_at(0.2) < 0.1


def test_eps_grid_is_sorted_and_eps_zero_gives_clean_accuracy(undefended):
    assert undefended.eps == (0.0, 0.05, 0.2)
    assert undefended.robust_accuracy[0] == undefended.clean_accuracy


def test_robust_accuracy_never_rises_with_eps(undefended):
    assert list(undefended.robust_accuracy) == sorted(undefended.robust_accuracy, reverse=True)
    masks = undefended.robust_per_sample
    assert masks.shape == (3, 60)
    assert not (masks[1:] & ~masks[:-1]).any()


def test_ensemble_is_at_least_as_strong_as_each_of_its_attacks(digits_cnn, batch, undefended):
    x, y = batch
    for factory in SMALL_ENSEMBLE.values():
        single = evaluate(digits_cnn, factory(0.05), x, y)
        assert undefended.robust_accuracy_at(0.05) <= single.robust_accuracy + 1e-9


def test_records_account_for_every_broken_sample(undefended):
    for eps, accuracy in zip(undefended.eps[1:], undefended.robust_accuracy[1:], strict=True):
        at_eps = [r for r in undefended.records if r.eps == eps]
        assert [r.attack for r in at_eps] == ["apgd-ce", "apgd-dlr", "square"]
        assert at_eps[-1].robust_accuracy_after == accuracy
        assert at_eps[0].samples_attacked >= at_eps[-1].samples_attacked


def test_undefended_model_raises_no_gradient_masking_finding(undefended):
    assert undefended.findings == ()
    assert not undefended.gradient_masking
    assert undefended.measurements["large_eps_robust_accuracy"] <= 0.05
    assert undefended.measurements["pgd_100_robust_accuracy"] <= undefended.measurements["fgsm_robust_accuracy"]


def test_black_box_attack_that_beats_white_box_ones_is_reported(digits, digits_cnn, batch):
    x, y = batch
    destination = digits.x_test[np.flatnonzero(digits.y_test == 0)[0]]
    keep = np.flatnonzero(y != 0)[:20]
    attacks = {"fgsm-tiny": lambda eps: FGSM(eps / 100), "teleport": lambda eps: Teleport(destination)}
    result = robustness(digits_cnn, x[keep], y[keep], eps_grid=[1.0], attacks=attacks, diagnostics=True)
    finding = result.finding("black_box_beats_white_box")
    assert isinstance(finding, RobustnessFinding)
    assert finding.severity == "high"
    assert "teleport" in finding.evidence


def test_adversarial_examples_outside_the_eps_ball_do_not_count(digits, digits_cnn, batch):
    x, y = batch
    destination = digits.x_test[np.flatnonzero(digits.y_test == 0)[0]]
    keep = y != 0
    result = robustness(
        digits_cnn,
        x[keep],
        y[keep],
        eps_grid=[0.1],
        attacks={"teleport": lambda eps: Teleport(destination)},
        diagnostics=False,
    )
    assert result.robust_accuracy[0] == result.clean_accuracy


def test_unbounded_check_fires_when_no_attack_can_move_the_inputs(digits_cnn, batch):
    x, y = batch
    result = robustness(digits_cnn, x[:20], y[:20], eps_grid=[0.1], attacks={"nothing": lambda eps: FGSM(0.0)})
    finding = result.finding("unbounded_attack_fails")
    assert finding is not None and "eps=0.5" in finding.evidence


def test_standard_ensemble_is_autoattacks(digits_cnn, batch):
    ensemble = default_attacks(10)
    assert list(ensemble) == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert isinstance(ensemble["apgd-t"](0.1), APGDT) and ensemble["apgd-t"](0.1).n_target_classes == 9
    fab = ensemble["fab-t"](0.1)
    assert isinstance(fab, FAB) and fab.targeted and fab.n_target_classes == 9
    assert ensemble["square"](0.1).max_queries == 5000
    x, y = batch
    result = robustness(digits_cnn, x[:8], y[:8], eps_grid=[0.3], diagnostics=False)
    assert [r.attack for r in result.records] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert result.robust_accuracy[0] <= 0.125


class NoisyLogits(torch.nn.Module):
    """Adds fresh Gaussian noise to the logits at every call, in eval mode too: a randomised model."""

    def __init__(self, module: torch.nn.Module, std: float) -> None:
        super().__init__()
        self.module = module
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.module(x)
        return logits + self.std * torch.randn_like(logits)


def test_randomised_model_is_reported_and_square_asks_about_every_proposal(digits, digits_cnn, batch):
    x, y = batch
    noisy = TorchModel(NoisyLogits(digits_cnn.module, 1e-3), input_shape=digits.input_shape, n_classes=10)
    confident = np.flatnonzero(digits_cnn.predict_proba(x).max(axis=1) > 0.999)[:4]

    randomised = robustness(noisy, x[confident], y[confident], eps_grid=[0.005], version="fast")
    plain = robustness(digits_cnn, x[confident], y[confident], eps_grid=[0.005], version="fast", diagnostics=False)

    assert randomised.finding("randomised_model").severity == "medium"
    assert plain.findings == ()
    square, plain_square = randomised.records[-1], plain.records[-1]
    assert square.attack == plain_square.attack == "square" and square.samples_attacked == 4
    assert square.queries_used == 4 * 1000
    assert plain_square.queries_used < 4 * 1000


def test_standard_ensemble_replaces_apgd_t_below_four_classes():
    assert list(default_attacks(3)) == ["apgd-ce", "apgd-dlr", "fab-t", "square"]
    assert list(default_attacks(2)) == ["apgd-ce", "pgd-margin", "fab-t", "square"]


def test_fast_ensemble_is_apgd_ce_apgd_dlr_and_square(digits_cnn, batch):
    ensemble = default_attacks(10, version="fast")
    assert list(ensemble) == ["apgd-ce", "apgd-dlr", "square"]
    assert ensemble["apgd-dlr"](0.1).loss == "dlr"
    assert ensemble["square"](0.1).max_queries == 1000
    assert "pgd-margin" in default_attacks(2, version="fast")
    x, y = batch
    result = robustness(digits_cnn, x[:8], y[:8], eps_grid=[0.3], version="fast", diagnostics=False)
    assert [r.attack for r in result.records] == ["apgd-ce", "apgd-dlr", "square"]


def test_blackbox_ensemble_is_square_and_hopskipjump_and_runs_without_gradients(digits_cnn, batch):
    from bastion.models import LabelOnly

    assert list(default_attacks(10, version="blackbox")) == ["square", "hopskipjump"]
    assert list(default_attacks(10, version="blackbox", scores=False)) == ["hopskipjump"]
    x, y = batch
    result = robustness(LabelOnly(digits_cnn), x[:6], y[:6], eps_grid=[0.3], version="blackbox", diagnostics=False)
    assert [r.attack for r in result.records] == ["hopskipjump"]
    assert result.robust_accuracy[0] <= result.clean_accuracy


@pytest.mark.parametrize(
    ("version", "attacks", "message"),
    [
        ("plus", None, "`version` must be one of 'standard', 'fast', 'blackbox', 'custom', got 'plus'"),
        ("custom", None, "`attacks` must be given with version='custom'"),
        ("standard", SMALL_ENSEMBLE, "`attacks` must be None with version='standard'"),
    ],
)
def test_inconsistent_version_and_attacks_are_refused(digits_cnn, batch, version, attacks, message):
    with pytest.raises(ValidationError, match=message):
        robustness(digits_cnn, *batch, eps_grid=[0.1], version=version, attacks=attacks)


def test_same_seed_gives_the_same_result(digits_cnn, batch):
    x, y = batch
    attacks = {"pgd": lambda eps: PGD(eps, steps=5)}
    first = robustness(digits_cnn, x, y, eps_grid=[0.05], attacks=attacks, diagnostics=False)
    second = robustness(digits_cnn, x, y, eps_grid=[0.05], attacks=attacks, diagnostics=False)
    assert np.array_equal(first.robust_per_sample, second.robust_per_sample)


def test_result_serialises_to_json(undefended):
    data = json.loads(json.dumps(undefended.to_dict()))
    assert data["eps"] == [0.0, 0.05, 0.2]
    assert data["gradient_masking"] is False
    assert len(data["robust_per_sample"]) == 3


def test_plot_writes_a_png(undefended, tmp_path):
    path = plot_robustness(undefended, tmp_path / "robustness.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("eps_grid", "error", "message"),
    [
        ([], ValidationError, "`eps_grid` must hold at least one eps"),
        ([0.1, -0.1], ValidationError, r"`eps_grid` must be a float in \[0, inf\), got -0.1"),
        ("0.1", InputTypeError, "`eps_grid` must be a sequence of floats"),
    ],
)
def test_bad_eps_grid_raises_a_clear_error(digits_cnn, batch, eps_grid, error, message):
    with pytest.raises(error, match=message):
        robustness(digits_cnn, *batch, eps_grid=eps_grid)


def test_bad_attacks_raise_a_clear_error(digits_cnn, batch):
    with pytest.raises(InputTypeError, match="`attacks` must be a non-empty mapping"):
        robustness(digits_cnn, *batch, eps_grid=[0.1], attacks=[PGD])
    with pytest.raises(InputTypeError, match="must return an evasion attack"):
        robustness(digits_cnn, *batch, eps_grid=[0.1], attacks={"bad": lambda eps: eps})


def test_robust_accuracy_at_an_eps_outside_the_grid_raises(undefended):
    with pytest.raises(ValidationError, match="`eps` must be one of the evaluated"):
        undefended.robust_accuracy_at(0.3)
