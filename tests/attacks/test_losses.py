"""Attack losses: values by hand and the invariances the papers rely on."""

from __future__ import annotations

import numpy as np
import torch

from bastion.attacks.losses import cross_entropy, dlr, dlr_targeted, margin

LOGITS = torch.tensor([[4.0, 1.0, 3.0, 0.0], [0.0, 2.0, 5.0, 1.0]])
LABELS = torch.tensor([0, 1])


def test_cross_entropy_is_minus_the_log_softmax_of_the_label():
    expected = -torch.log_softmax(LOGITS, dim=1)[[0, 1], LABELS]

    np.testing.assert_allclose(cross_entropy(LOGITS, LABELS), expected, rtol=1e-6)


def test_margin_is_the_best_other_logit_minus_the_labels():
    np.testing.assert_allclose(margin(LOGITS, LABELS), [3.0 - 4.0, 5.0 - 2.0])


def test_margin_is_positive_exactly_when_misclassified():
    assert margin(LOGITS, LABELS)[0] < 0 < margin(LOGITS, LABELS)[1]


def test_dlr_by_hand():
    # -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)
    np.testing.assert_allclose(dlr(LOGITS, LABELS), [-(4 - 3) / (4 - 1), -(2 - 5) / (5 - 1)], rtol=1e-6)


def test_dlr_is_invariant_to_shifting_and_scaling_the_logits():
    np.testing.assert_allclose(dlr(3.0 * LOGITS + 7.0, LABELS), dlr(LOGITS, LABELS), rtol=1e-5)


def test_targeted_dlr_by_hand():
    targets = torch.tensor([2, 3])
    # -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)
    expected = [-(4 - 3) / (4 - (1 + 0) / 2), -(2 - 1) / (5 - (1 + 0) / 2)]

    np.testing.assert_allclose(dlr_targeted(LOGITS, LABELS, targets), expected, rtol=1e-6)


def test_targeted_dlr_is_invariant_to_shifting_and_scaling_the_logits():
    targets = torch.tensor([2, 3])

    np.testing.assert_allclose(
        dlr_targeted(0.5 * LOGITS - 2.0, LABELS, targets), dlr_targeted(LOGITS, LABELS, targets), rtol=1e-5
    )
