"""Norm-ball geometry: projection, ascent directions, random starts, clipping."""

from __future__ import annotations

import numpy as np
import torch

from bastion.attacks.norms import (
    ascent_direction,
    clip_to_range,
    l2_norms,
    linf_norms,
    norms,
    per_sample,
    project,
    random_start,
)


def _batch(seed: int = 0) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(seed).normal(size=(5, 1, 3, 3)), dtype=torch.float32)


def test_norms_match_numpy():
    delta = _batch()
    flat = delta.flatten(1).numpy()

    np.testing.assert_allclose(l2_norms(delta), np.linalg.norm(flat, axis=1), rtol=1e-6)
    np.testing.assert_allclose(linf_norms(delta), np.abs(flat).max(axis=1), rtol=1e-6)
    np.testing.assert_allclose(norms(delta, "2"), l2_norms(delta))
    np.testing.assert_allclose(norms(delta, "inf"), linf_norms(delta))


def test_per_sample_broadcasts_a_vector_over_the_batch():
    values = torch.arange(5.0)

    assert per_sample(values, _batch()).shape == (5, 1, 1, 1)


def test_linf_projection_clamps_each_feature():
    delta = _batch()

    projected = project(delta, "inf", 0.5)

    np.testing.assert_allclose(projected, delta.clamp(-0.5, 0.5))


def test_linf_projection_accepts_one_radius_per_sample():
    delta = _batch()
    radius = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5])

    projected = project(delta, "inf", radius)

    np.testing.assert_allclose(linf_norms(projected), torch.minimum(linf_norms(delta), radius), rtol=1e-6)


def test_l2_projection_shrinks_only_perturbations_outside_the_ball():
    delta = _batch()
    delta[0] *= 1e-3

    projected = project(delta, "2", 1.0)

    np.testing.assert_allclose(projected[0], delta[0])
    np.testing.assert_allclose(l2_norms(projected[1:]), torch.ones(4), rtol=1e-5)
    np.testing.assert_allclose(projected[1] / l2_norms(projected[1:2]), delta[1] / l2_norms(delta[1:2]), rtol=1e-5)


def test_ascent_direction_is_the_sign_for_linf_and_unit_vector_for_l2():
    gradient = _batch()

    np.testing.assert_array_equal(ascent_direction(gradient, "inf"), gradient.sign())
    np.testing.assert_allclose(l2_norms(ascent_direction(gradient, "2")), torch.ones(5), rtol=1e-6)


def test_ascent_direction_of_a_zero_gradient_is_zero():
    assert torch.all(ascent_direction(torch.zeros(2, 4), "2") == 0)


def test_random_start_lies_inside_the_ball():
    generator = torch.Generator().manual_seed(0)

    linf = random_start((200, 1, 3, 3), "inf", 0.3, generator, "cpu")
    l2 = random_start((200, 1, 3, 3), "2", 0.3, generator, "cpu")

    assert linf_norms(linf).max() <= 0.3
    assert l2_norms(l2).max() <= 0.3 + 1e-6
    # Uniform in the 9-dimensional ball: most of the mass is near the sphere.
    assert l2_norms(l2).median() > 0.25


def test_random_start_is_reproducible_from_the_seed():
    first = random_start((4, 6), "2", 1.0, torch.Generator().manual_seed(3), "cpu")
    again = random_start((4, 6), "2", 1.0, torch.Generator().manual_seed(3), "cpu")
    other = random_start((4, 6), "2", 1.0, torch.Generator().manual_seed(4), "cpu")

    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_clip_to_range_clamps_to_the_model_range():
    clipped = clip_to_range(torch.tensor([-3.0, 0.5, 4.0]), (-1.0, 2.0))

    np.testing.assert_array_equal(clipped, [-1.0, 0.5, 2.0])
