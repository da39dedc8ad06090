"""Output policies of the gateway, by name, built from :mod:`bastion.models.wrappers`.

=============  =====================================================================
``probs``      the model's full probabilities
``top1``       the winning class's confidence only (``top:K`` keeps the K largest)
``label``      class labels only (:class:`~bastion.models.LabelOnly`)
``round:D``    confidences rounded to D decimals (:class:`~bastion.models.RoundedScores`)
``noise:S``    Gaussian noise of standard deviation S on the confidences
=============  =====================================================================
"""

from __future__ import annotations

from typing import Any

from bastion.exceptions import ValidationError
from bastion.models.base import LABELS, SCORES
from bastion.models.wrappers import LabelOnly, NoisyScores, RoundedScores, TopK

NAMES = ("probs", "top1", "top:K", "label", "round:D", "noise:S")


def parse_policy(text: str) -> str:
    """The canonical spelling of a policy name; raise a ValidationError naming the choices."""
    spec = str(text).strip().lower()
    name, _, value = spec.partition(":")
    try:
        if spec in ("probs", "label", "top1"):
            return spec
        if name == "top" and int(value) >= 1:
            return "top1" if int(value) == 1 else f"top:{int(value)}"
        if name == "round" and 0 <= int(value) <= 10:
            return f"round:{int(value)}"
        if name == "noise" and 0 <= float(value) <= 1:
            return f"noise:{float(value):g}"
    except ValueError:
        pass
    raise ValidationError(f"`policy` must be one of {', '.join(NAMES)} (D in 0..10, S in [0, 1]), got {text!r}")


def capabilities(policy: str) -> frozenset[str]:
    """What a client of this policy can ask for."""
    return frozenset({LABELS}) if parse_policy(policy) == "label" else frozenset({LABELS, SCORES})


def apply_policy(model: Any, policy: str) -> Any:
    """``model`` seen through ``policy``: a bastion Model answering what the policy reveals.

    Raises:
        ValidationError: an unknown policy, or ``top:K`` with K above the model's classes.
    """
    policy = parse_policy(policy)
    name, _, value = policy.partition(":")
    if policy == "probs":
        return model
    if policy == "label":
        return LabelOnly(model)
    if policy == "top1":
        return TopK(model, 1)
    if name == "top":
        if int(value) > model.n_classes:
            raise ValidationError(f"`policy` top:{value} keeps more classes than the model's {model.n_classes}")
        return TopK(model, int(value))
    if name == "round":
        return RoundedScores(model, int(value))
    return NoisyScores(model, float(value))
