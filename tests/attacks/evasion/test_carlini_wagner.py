"""Carlini & Wagner L2: minimal perturbations, targeted mode, the clip range, errors."""

from __future__ import annotations

import numpy as np
import pytest
from tests.attacks.evasion.conftest import build_tiny_model, linear_binary_model, tiny_inputs

from bastion.attacks.evasion import PGD, CarliniWagnerL2
from bastion.exceptions import CapabilityError, ValidationError


def _success_and_mean_l2(model, x, x_adv, y):
    success = model.predict(x_adv) != y
    l2 = np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1)
    return success.mean(), l2[success].mean()


def test_finds_smaller_perturbations_than_pgd_l2_at_no_lower_success(digits, digits_mlp):
    x, y = digits.x_test[:100], digits.y_test[:100]

    pgd_success, pgd_l2 = _success_and_mean_l2(
        digits_mlp, x, PGD(eps=1.0, steps=20, norm="2").generate(digits_mlp, x, y), y
    )
    cw_success, cw_l2 = _success_and_mean_l2(
        digits_mlp, x, CarliniWagnerL2(steps=50, lr=0.05).generate(digits_mlp, x, y), y
    )

    assert cw_success >= pgd_success
    assert cw_l2 < pgd_l2


def test_targeted_mode_reaches_the_target(digits, digits_mlp):
    x, y = digits.x_test[:50], digits.y_test[:50]

    x_adv = CarliniWagnerL2(steps=100, lr=0.05).generate(digits_mlp, x, y, target=3)

    assert (digits_mlp.predict(x_adv) == 3).mean() > 0.9


def test_confidence_makes_successes_clear_the_logit_margin(digits, digits_mlp):
    x, y = digits.x_test[:30], digits.y_test[:30]

    x_adv = CarliniWagnerL2(steps=50, lr=0.05, confidence=2.0).generate(digits_mlp, x, y)

    logits = digits_mlp.logits(x_adv)
    true = logits[np.arange(len(y)), y]
    others = np.where(np.eye(logits.shape[1], dtype=bool)[y], -np.inf, logits).max(axis=1)
    moved = np.any(x_adv != x, axis=(1, 2, 3))
    assert moved.mean() > 0.8
    assert np.all(others[moved] - true[moved] >= 2.0 - 1e-4)


def test_failed_samples_are_returned_unchanged(digits, digits_mlp):
    x, y = digits.x_test[:20], digits.y_test[:20]

    # One Adam step of a tiny learning rate cannot flip a well-classified digit.
    x_adv = CarliniWagnerL2(steps=1, lr=1e-4, binary_search_steps=1).generate(digits_mlp, x, y)

    kept = digits_mlp.predict(x) == y
    np.testing.assert_array_equal(x_adv[kept], x[kept])


def test_stays_inside_a_clip_range_other_than_the_unit_interval():
    model = build_tiny_model(clip=(-1.0, 2.0))
    x = tiny_inputs(model, 8, seed=1)

    x_adv = CarliniWagnerL2(steps=30, lr=0.1).generate(model, x)

    assert x_adv.min() >= -1.0 and x_adv.max() <= 2.0
    assert np.any(model.predict(x_adv) != model.predict(x))


def test_pixels_exactly_on_the_range_edges_move_from_the_default_start():
    # Class 1 needs x0 - x1 to grow by 0.05 from the corner (0, 1). Started 1e-6 inside the
    # range (the authors' code), tanh is so flat there that 20 Adam steps leave both pixels
    # in place; started 0.1% inside (the first default start), they cross the boundary.
    model = linear_binary_model(np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32), bias=(0.0, 0.95))
    x = np.array([[0.0, 1.0]], dtype=np.float32)
    settings = {"c": 10.0, "steps": 20, "lr": 0.1, "binary_search_steps": 1, "abort_early": False}

    authors = CarliniWagnerL2(edge_starts=(1e-6,), **settings).generate(model, x)
    default = CarliniWagnerL2(**settings).generate(model, x)

    assert model.predict(authors)[0] == 0
    assert default[0, 0] > 0.0 and default[0, 1] < 1.0
    assert model.predict(default)[0] == 1


def test_several_edge_starts_keep_each_samples_closest_success(digits, digits_mlp):
    x, y = digits.x_test[:30], digits.y_test[:30]
    settings = {"steps": 40, "lr": 0.05, "binary_search_steps": 3, "abort_early": False, "line_search_steps": 0}

    def l2(edge_starts):
        x_adv = CarliniWagnerL2(edge_starts=edge_starts, **settings).generate(digits_mlp, x, y)
        fooled = digits_mlp.predict(x_adv) != y
        return np.where(fooled, np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1), np.inf)

    single = np.minimum(l2((1e-3,)), l2((1e-6,)))
    both = l2((1e-3, 1e-6))

    assert np.isfinite(both).sum() == np.isfinite(single).sum()
    np.testing.assert_allclose(both[np.isfinite(both)], single[np.isfinite(single)], rtol=1e-4)


def test_later_binary_search_steps_resume_from_the_closest_example_found(monkeypatch):
    model = build_tiny_model()
    x = tiny_inputs(model, 16, seed=0)
    y = model.predict(x)
    seen = []
    forward = model.logits_tensor
    monkeypatch.setattr(model, "logits_tensor", lambda batch: seen.append(batch.detach().clone()) or forward(batch))
    steps = 20

    CarliniWagnerL2(
        c=10.0, steps=steps, lr=0.1, binary_search_steps=2, abort_early=False, edge_starts=(1e-3,)
    ).generate(model, x, y)

    # The first run's candidates, each kept where it succeeded and is the closest so far.
    turned = np.zeros(len(x), dtype=bool)
    closest = np.full(len(x), np.inf)
    expected = x.copy()
    for batch in (b.numpy() for b in seen[:steps]):
        distance = np.linalg.norm((batch - x).reshape(len(x), -1), axis=1)
        better = (model.predict(batch) != y) & (distance < closest)
        closest = np.where(better, distance, closest)
        expected[better] = batch[better]
        turned |= better
    assert turned.any()
    np.testing.assert_allclose(seen[steps].numpy()[turned], expected[turned], atol=1e-6)


def test_line_search_shortens_perturbations_without_losing_a_success(digits, digits_mlp):
    x, y = digits.x_test[:40], digits.y_test[:40]
    settings = {"steps": 30, "lr": 0.05, "binary_search_steps": 2}

    plain = CarliniWagnerL2(line_search_steps=0, **settings).generate(digits_mlp, x, y)
    searched = CarliniWagnerL2(**settings).generate(digits_mlp, x, y)

    fooled = digits_mlp.predict(plain) != y
    plain_l2 = np.linalg.norm((plain - x).reshape(len(x), -1), axis=1)
    searched_l2 = np.linalg.norm((searched - x).reshape(len(x), -1), axis=1)
    assert np.all(digits_mlp.predict(searched)[fooled] != y[fooled])
    assert np.all(searched_l2 <= plain_l2 + 1e-6)
    assert searched_l2[fooled].mean() < plain_l2[fooled].mean()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"c": 0.0}, r"`c` must be a float in \(0, inf\), got 0.0"),
        ({"steps": 0}, r"`steps` must be an int in \[1, inf\), got 0"),
        ({"lr": -0.01}, r"`lr` must be a float in \(0, inf\), got -0.01"),
        ({"confidence": -1.0}, r"`confidence` must be a float in \[0, inf\), got -1.0"),
        ({"binary_search_steps": 0}, r"`binary_search_steps` must be an int in \[1, inf\), got 0"),
        ({"line_search_steps": -1}, r"`line_search_steps` must be an int in \[0, inf\), got -1"),
        ({"edge_starts": ()}, r"`edge_starts` must be a non-empty sequence of fractions in \(0, 0.5\)"),
        ({"edge_starts": 1e-3}, r"`edge_starts` must be a non-empty sequence of fractions in \(0, 0.5\)"),
        ({"edge_starts": (1e-3, 0.5)}, r"`edge_starts` must be a float in \(0, 0.5\), got 0.5"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        CarliniWagnerL2(**kwargs)


def test_black_box_model_is_refused(breast_cancer, breast_cancer_logistic):
    with pytest.raises(CapabilityError, match=r"CarliniWagnerL2 needs a model with 'gradients'"):
        CarliniWagnerL2().generate(breast_cancer_logistic, breast_cancer.x_test[:2])
