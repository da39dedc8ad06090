"""FAB: the box-hyperplane projection, the analytic minimum on linear models, targets, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.attacks.evasion.conftest import linear_model

from bastion.attacks.evasion import FAB
from bastion.attacks.evasion.fab import box_hyperplane_step
from bastion.exceptions import ValidationError
from bastion.models import TorchModel


def analytic_distances(model, weights, x, y, norm):
    """Per sample, the exact distance to the closest other class of a linear model."""
    logits = model.logits(x)
    gaps = logits[np.arange(len(x)), y][:, None] - logits
    differences = weights[y][:, None, :] - weights[None, :, :]
    dual = np.abs(differences).sum(axis=2) if norm == "inf" else np.linalg.norm(differences, axis=2)
    distances = gaps / np.where(dual > 0, dual, np.inf)
    distances[np.arange(len(x)), y] = np.inf
    return distances.min(axis=1)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_step_reaches_the_hyperplane_inside_the_box(norm):
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(50, 9, generator=generator, dtype=torch.float64)
    points[:, :3] = 1.0
    w = torch.randn(50, 9, generator=generator, dtype=torch.float64)
    c = 0.3 * torch.randn(50, generator=generator, dtype=torch.float64)

    step = box_hyperplane_step(points, w, c, 0.0, 1.0, norm)

    # Where the box cannot reach the hyperplane, the step goes as far toward it as the box allows.
    reachable = (w.abs() * torch.where(w * c[:, None] > 0, 1 - points, points)).sum(dim=1)
    expected = torch.where(c.abs() <= reachable, c, c.sign() * reachable)
    assert (c.abs() <= reachable).sum() > 40
    np.testing.assert_allclose((w * step).sum(dim=1), expected, atol=1e-9)
    assert (points + step).min() >= 0 and (points + step).max() <= 1


def test_linf_step_is_no_longer_than_the_unconstrained_optimum_allows():
    # Without the box the smallest L-inf step to w . d = c is |c| / ||w||_1 along sign(w).
    points = torch.full((1, 4), 0.5, dtype=torch.float64)
    w = torch.tensor([[1.0, -2.0, 0.5, 0.0]], dtype=torch.float64)

    step = box_hyperplane_step(points, w, torch.tensor([0.35], dtype=torch.float64), 0.0, 1.0, "inf")

    np.testing.assert_allclose(step, [[0.1, -0.1, 0.1, 0.0]], atol=1e-12)


def test_l2_step_saturates_coordinates_at_the_edge():
    # The first coordinate can move only 0.1 before it hits 1; the rest of the way is the second's.
    points = torch.tensor([[0.9, 0.5]], dtype=torch.float64)
    w = torch.tensor([[1.0, 1.0]], dtype=torch.float64)

    step = box_hyperplane_step(points, w, torch.tensor([0.4], dtype=torch.float64), 0.0, 1.0, "2")

    np.testing.assert_allclose(step, [[0.1, 0.3]], atol=1e-12)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_finds_the_analytic_minimal_perturbation_of_a_linear_model(norm):
    model, weights = linear_model(n_classes=5, n_features=6, seed=0)
    x = np.random.default_rng(1).uniform(0.4, 0.6, size=(30, 6)).astype(np.float32)
    y = model.predict(x)

    x_adv = FAB(norm=norm).generate(model, x, y)

    delta = (x_adv - x).astype(np.float64)
    found = np.abs(delta).max(axis=1) if norm == "inf" else np.linalg.norm(delta, axis=1)
    assert np.all(model.predict(x_adv) != y)
    np.testing.assert_allclose(found, analytic_distances(model, weights, x, y, norm), rtol=0.01)


def test_targeted_runs_find_the_closest_class_of_a_linear_model():
    model, weights = linear_model(n_classes=5, n_features=6, seed=0)
    x = np.random.default_rng(2).uniform(0.4, 0.6, size=(30, 6)).astype(np.float32)
    y = model.predict(x)

    x_adv = FAB(targeted=True, n_target_classes=4).generate(model, x, y)

    found = np.abs(x_adv - x).max(axis=1)
    np.testing.assert_allclose(found, analytic_distances(model, weights, x, y, "inf"), rtol=0.01)


def test_with_eps_only_samples_closer_than_eps_change():
    model, weights = linear_model(n_classes=5, n_features=6, seed=0)
    x = np.random.default_rng(3).uniform(0.4, 0.6, size=(40, 6)).astype(np.float32)
    y = model.predict(x)
    minimal = analytic_distances(model, weights, x, y, "inf")
    eps = float(np.median(minimal))

    x_adv = FAB(eps).generate(model, x, y)

    broken = model.predict(x_adv) != y
    np.testing.assert_array_equal(broken, minimal < eps / 1.01)
    np.testing.assert_array_equal(x_adv[~broken], x[~broken])
    assert np.abs(x_adv - x).max() <= eps + 1e-6


def test_given_target_is_reached(digits, digits_cnn):
    x, y = digits.x_test[:40], digits.y_test[:40]
    keep = y != 3

    x_adv = FAB(steps=50).generate(digits_cnn, x[keep], y[keep], target=3)

    assert (digits_cnn.predict(x_adv) == 3).mean() > 0.9


def test_targeted_mode_refuses_a_given_target(digits, digits_cnn):
    with pytest.raises(ValidationError, match=r"`target` must be None when targeted=True"):
        FAB(targeted=True).generate(digits_cnn, digits.x_test[:2], target=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps": -0.1}, r"`eps` must be a float in \[0, inf\), got -0.1"),
        ({"steps": 0}, r"`steps` must be an int in \[1, inf\), got 0"),
        ({"eta": 0.5}, r"`eta` must be a float in \[1, inf\), got 0.5"),
        ({"beta": 1.0}, r"`beta` must be a float in \(0, 1\), got 1.0"),
        ({"alpha_max": 2.0}, r"`alpha_max` must be a float in \[0, 1\], got 2.0"),
        ({"n_target_classes": 0}, r"`n_target_classes` must be an int in \[1, inf\), got 0"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        FAB(**kwargs)


@pytest.mark.parametrize("eps", [None, 0.05])
def test_targets_batched_together_find_what_the_one_by_one_order_finds(digits, digits_cnn, eps):
    x, y = digits.x_test[:30], digits.y_test[:30]
    shape, classes = digits.input_shape, digits.n_classes
    one_by_one = TorchModel(digits_cnn.module, input_shape=shape, n_classes=classes, batch_size=len(x))
    together = TorchModel(digits_cnn.module, input_shape=shape, n_classes=classes, batch_size=3 * len(x))
    attack = FAB(eps, steps=10, targeted=True, n_target_classes=3)

    alone, batched = attack.generate(one_by_one, x, y), attack.generate(together, x, y)

    np.testing.assert_array_equal(together.predict(batched) != y, one_by_one.predict(alone) != y)
    distances = [np.abs(points - x).max(axis=(1, 2, 3)) for points in (batched, alone)]
    np.testing.assert_allclose(*distances, atol=1e-5)


class _ConstantLogits(torch.nn.Module):
    """Logits that ignore the input: no point is ever adversarial."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :4] * self.scale + torch.arange(4.0)


def test_an_iteration_costs_one_query_per_sample_while_nothing_is_found():
    model = TorchModel(_ConstantLogits(), input_shape=(1, 4, 4), n_classes=4)
    x = np.random.default_rng(0).uniform(size=(6, 1, 4, 4)).astype(np.float32)
    y = np.full(6, 3)
    before = model.queries

    FAB(steps=7).generate(model, x, y)

    assert model.queries - before == 6 * (1 + 7)


def test_each_row_is_linearised_once_per_iteration_after_a_success(monkeypatch):
    # On a linear model every iteration from the first success on finds a point and steps
    # back; the stepped-back point needs its own linearisation, so the check before it must
    # not spend a backward pass (the authors' cost: one backward and two forward passes).
    model, _ = linear_model(n_classes=3, n_features=6, seed=0)
    x = np.random.default_rng(1).uniform(0.4, 0.6, size=(10, 6)).astype(np.float32)
    y = model.predict(x)
    steps, linearised, checked = 20, [0], [0]
    forward = model.logits_tensor

    def counting(batch):
        (linearised if batch.requires_grad else checked)[0] += len(batch)
        return forward(batch)

    monkeypatch.setattr(model, "logits_tensor", counting)

    x_adv = FAB(norm="2", steps=steps).generate(model, x, y)

    assert np.all(model.predict(x_adv) != y)
    # Per row: the start, one per iteration but the last (forward only), and one more at the
    # first success, which nothing predicted. The old code linearised every success twice.
    assert linearised[0] == len(x) * (1 + (steps - 1) + 1)
    assert checked[0] > len(x) * steps / 2
