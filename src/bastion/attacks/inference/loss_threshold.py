"""The loss-threshold membership attack of Yeom et al. (2018)."""

from __future__ import annotations

import numpy as np

from bastion.attacks.inference.base import MembershipAttack, cross_entropy, log_probabilities
from bastion.models.base import Model


class LossThreshold(MembershipAttack):
    """Call a record a member when the target's loss on it is low.

    Yeom et al. 2018, "Privacy Risk in Machine Learning: Analyzing the Connection to
    Overfitting" (CSF), Sec. 3: a model minimises its loss on its training records, so a
    record whose loss falls below a threshold is guessed to be a member. For a bounded loss
    the paper shows the advantage of such an adversary equals the generalisation error over
    the bound; its experiments (Sec. 6) threshold the loss at the expected training loss.

    Threat model: black-box access to the target's class probabilities and the record's
    true label; no data and no training. ``fit`` only validates. The score is minus the
    cross-entropy loss, so every threshold the adversary could choose is one point of the
    ROC curve that :func:`~bastion.attacks.inference.evaluate_membership` measures.

    Example:
        >>> scores = LossThreshold().score(model, x, y)   # (n,), higher = member
    """

    def _score(self, model: Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return -cross_entropy(log_probabilities(model, x), y)
