"""The confidence-threshold membership attack (Salem et al. 2019, ML-Leaks)."""

from __future__ import annotations

import numpy as np

from bastion.attacks.inference.base import MembershipAttack, log_probabilities, logit_confidence
from bastion.models.base import Model


class ConfidenceThreshold(MembershipAttack):
    """Call a record a member when the target is very confident about it.

    Salem et al. 2019, "ML-Leaks: Model and Data Independent Membership Inference Attacks
    and Defenses on Machine Learning Models" (NDSS), Sec. V (Adversary 3): the highest
    posterior probability is larger on training records than on unseen ones, so
    thresholding it infers membership without shadow models and without the record's
    label. Shokri et al. 2017 observed the same confidence gap.

    Threat model: black-box access to the target's class probabilities; the label ``y`` is
    validated but not used. The score is the logit-scaled top probability
    ``log(p_max / (1 - p_max))``, a monotone transform of ``p_max`` (same ROC) that keeps
    records apart where a float32 ``p_max`` rounds to 1.

    Example:
        >>> scores = ConfidenceThreshold().score(model, x, y)   # (n,), higher = member
    """

    def _score(self, model: Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        log_probs = log_probabilities(model, x)
        return logit_confidence(log_probs, log_probs.argmax(axis=1))
