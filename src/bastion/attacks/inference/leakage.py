"""One-call membership audit of a model, and the registry of attacks by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bastion.attacks.inference.base import MembershipAttack
from bastion.attacks.inference.confidence_threshold import ConfidenceThreshold
from bastion.attacks.inference.evaluation import MembershipResult, evaluate_membership
from bastion.attacks.inference.lira import LiRA
from bastion.attacks.inference.loss_threshold import LossThreshold
from bastion.attacks.inference.shadow_models import ShadowModels
from bastion.exceptions import BastionError, InputTypeError, ValidationError
from bastion.models.base import Model
from bastion.validation import check_choice, check_seed

ATTACKS: dict[str, type[MembershipAttack]] = {
    "loss": LossThreshold,
    "confidence": ConfidenceThreshold,
    "shadow": ShadowModels,
    "lira": LiRA,
}
# Attacks that train models on the attacker's pool, and so need a pool and a train_fn.
NEEDS_POOL = frozenset({"shadow", "lira"})


def make_attack(name: str, **kwargs: Any) -> MembershipAttack:
    """Build the attack registered as ``name`` (``"loss"``, ``"confidence"``, ``"shadow"``, ``"lira"``).

    Raises:
        ValidationError: an unknown name.
        InputTypeError: keyword arguments the attack does not take, or a required one missing.
    """
    attack = ATTACKS[check_choice(name, "method", ATTACKS)]
    try:
        return attack(**kwargs)
    except TypeError as error:
        if isinstance(error, BastionError):
            raise
        raise InputTypeError(f"bad keyword arguments for make_attack({name!r}): {error}") from error


def membership_leakage(
    model: Model,
    x_members: np.ndarray,
    y_members: np.ndarray,
    x_nonmembers: np.ndarray,
    y_nonmembers: np.ndarray,
    *,
    methods: Sequence[str] = ("loss", "confidence"),
    x_population: np.ndarray | None = None,
    y_population: np.ndarray | None = None,
    train_fn: Any = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, MembershipResult]:
    """How much ``model`` leaks about its training set, by several membership attacks.

    The audit a defense reports (a PATE student, a model trained with weight decay or
    differential privacy): each attack in ``methods`` is fitted on the attacker's pool and
    measured on known members and non-members. Shadow and reference models are trained on
    as many records as there are members.

    Args:
        model: the model to audit, a bastion Model with ``"scores"``.
        x_members, y_members: records of its training set.
        x_nonmembers, y_nonmembers: records outside it.
        methods: attack names among ``"loss"``, ``"confidence"``, ``"shadow"``, ``"lira"``.
        x_population, y_population: the attacker's pool (disjoint from both sets above),
            needed by ``"shadow"`` and ``"lira"``.
        train_fn: ``train_fn(x, y, seed) -> Model`` for ``"shadow"`` and ``"lira"`` (see
            :func:`~bastion.attacks.inference.train_like`).
        seed: seed of the attacks that train models.
        progress: show progress bars while training.

    Returns:
        ``{method: MembershipResult}`` in the order of ``methods``.

    Raises:
        ValidationError: an unknown method, or a pool-based method without a pool or train_fn.
    """
    seed = check_seed(seed)
    if isinstance(methods, str) or not isinstance(methods, Sequence):
        raise InputTypeError(f"`methods` must be a sequence of attack names such as ['loss'], got {methods!r}")
    if not methods:
        raise ValidationError(f"`methods` must name at least one of {sorted(ATTACKS)}, got an empty sequence")
    for method in methods:
        check_choice(method, "methods", ATTACKS)
    results = {}
    for method in methods:
        if method in NEEDS_POOL:
            if x_population is None or y_population is None or train_fn is None:
                raise ValidationError(
                    f"`methods` {method!r} trains models on the attacker's pool: pass x_population, "
                    "y_population and train_fn (e.g. train_like(model, epochs=...))"
                )
            # The auditor knows the training-set size: models trained on as many records
            # imitate the target best.
            size = {"shadow": "shadow_size", "lira": "reference_size"}[method]
            attack = make_attack(method, train_fn=train_fn, seed=seed, progress=progress, **{size: len(x_members)})
            attack.fit(model, x_population, y_population)
        else:
            attack = make_attack(method)
        results[method] = evaluate_membership(model, attack, x_members, y_members, x_nonmembers, y_nonmembers)
    return results
