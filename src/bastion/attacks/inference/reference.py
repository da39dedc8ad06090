"""Shadow and reference models: trained by the attacker the way the target was trained.

Shadow models (Shokri et al. 2017) and LiRA's reference models (Carlini et al. 2022) both
need a ``train_fn(x, y, seed) -> Model`` that trains a fresh model like the target on the
attacker's data. :func:`train_like` builds one from the target itself (its zoo architecture
or scikit-learn estimator) for the common case; any callable with that signature works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from sklearn.base import clone
from tqdm.auto import tqdm

from bastion.backends import Backend, spawn_seeds
from bastion.exceptions import InputTypeError, ValidationError
from bastion.models.base import SCORES, Model, require
from bastion.models.sklearn import SklearnModel
from bastion.models.torch import TorchModel
from bastion.models.training import fit
from bastion.models.zoo import build
from bastion.validation import check_scalar

TrainFn = Callable[[np.ndarray, np.ndarray, int], Any]


def train_like(
    target: Any,
    *,
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
) -> TrainFn:
    """A ``train_fn(x, y, seed) -> Model`` that trains a fresh copy of ``target``'s kind.

    - ``TorchModel`` over a zoo network (``bastion.models.zoo``): the same architecture and
      preprocessing, re-initialised with ``seed`` and trained with
      :func:`~bastion.models.fit` on the given schedule (pass the target's own schedule: the
      attack is strongest when shadows are trained as the target was);
    - ``SklearnModel``: a clone of the estimator (same hyperparameters), ``random_state`` set
      to ``seed`` where it has one; the schedule arguments are ignored.

    The returned function is a ``functools.partial`` of a top-level function, so process and
    Ray backends can send it to their workers.

    Raises:
        InputTypeError: the target is neither; write your own ``train_fn`` then.
    """
    epochs = check_scalar(epochs, "epochs", kind=int, low=1)
    lr = check_scalar(lr, "lr", low=0, include_low=False)
    batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
    weight_decay = check_scalar(weight_decay, "weight_decay", low=0)
    if isinstance(target, TorchModel) and hasattr(target.module, "arch"):
        schedule = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "weight_decay": weight_decay}
        return partial(_train_torch, target=target, schedule=schedule)
    if isinstance(target, SklearnModel):
        return partial(_train_sklearn, target=target)
    raise InputTypeError(
        f"train_like needs a TorchModel over a bastion.models.zoo network or a SklearnModel, got "
        f"{type(target).__name__}; pass your own train_fn(x, y, seed) -> Model instead"
    )


def _train_torch(x: np.ndarray, y: np.ndarray, seed: int, *, target: TorchModel, schedule: dict) -> TorchModel:
    # Top-level (bound with functools.partial) so process and Ray backends can ship it.
    module = build(target.module.arch, {**dict(target.module.config), "seed": int(seed)}).to(target.device)
    module = fit(module, x, y, seed=int(seed), progress=False, **schedule)
    return TorchModel(
        module,
        input_shape=target.input_shape,
        n_classes=target.n_classes,
        clip=target.clip,
        preprocessing=target.preprocessing,
        device=target.device,
    )


def _train_sklearn(x: np.ndarray, y: np.ndarray, seed: int, *, target: SklearnModel) -> SklearnModel:
    estimator = clone(target.estimator)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=int(seed))
    estimator.fit(x.reshape(len(x), -1), y)
    return SklearnModel(estimator, input_shape=target.input_shape, clip=target.clip)


@dataclass(frozen=True)
class ReferenceModel:
    """One model trained by the attacker, and which of its pool records it trained on.

    Attributes:
        model: the trained bastion Model.
        members: ``(m,)`` bool mask over the attacker's pool, True for training records.
    """

    model: Model
    members: np.ndarray


def check_train_fn(train_fn: Any) -> TrainFn:
    """Check that ``train_fn`` is callable."""
    if not callable(train_fn):
        raise InputTypeError(
            f"`train_fn` must be a callable train_fn(x, y, seed) -> Model (see train_like), got "
            f"{type(train_fn).__name__}"
        )
    return train_fn


def train_reference_models(
    train_fn: TrainFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_models: int,
    size: int,
    target: Any,
    seed: int,
    progress: bool,
    who: str,
) -> list[ReferenceModel]:
    """Train ``n_models`` models, each on ``size`` records of the pool drawn without replacement.

    Each model's subset and seed come from one generator seeded with ``seed``, so the same
    seed trains the same models. Models train one after the other (they are small; the
    progress bar shows the count).

    Raises:
        ValidationError: ``size`` exceeds the pool, or a trained model does not match the
            target's classes.
        CapabilityError: ``train_fn`` returned a model without scores.
    """
    if size > len(x):
        raise ValidationError(f"`{who}` needs {size} records per model, but the pool holds only {len(x)}")
    rng = np.random.default_rng(seed)
    models = []
    for _ in tqdm(range(n_models), desc=who, disable=not progress, leave=False):
        members = np.zeros(len(x), dtype=bool)
        members[rng.choice(len(x), size=size, replace=False)] = True
        model = train_fn(x[members], y[members], int(rng.integers(2**31 - 1)))
        _check_reference(model, target, who)
        models.append(ReferenceModel(model=model, members=members))
    return models


def _check_reference(model: Any, target: Any, who: str) -> None:
    require(model, SCORES, f"{who} (the model train_fn returned)")
    if model.n_classes != target.n_classes:
        raise ValidationError(
            f"`train_fn` must return a model with the target's {target.n_classes} classes, got "
            f"{model.n_classes}; make sure every class occurs in each training subset"
        )


def _fit_reference(job: tuple[TrainFn, np.ndarray, np.ndarray, int]) -> Any:
    # Top-level so process and Ray backends can ship it.
    train_fn, x, y, seed = job
    return train_fn(x, y, seed)


def train_balanced_reference_models(
    train_fn: TrainFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_models: int,
    target: Any,
    seed: int,
    backend: Backend,
    progress: bool,
    who: str,
) -> list[ReferenceModel]:
    """Train ``n_models`` models so that every record of the pool is in exactly half of them.

    Carlini et al. 2022, Sec. IV.B (online LiRA): record ``i`` joins the training sets of
    ``n_models // 2`` models drawn at random, so each record has in-models and out-models.
    Subsets come from ``seed``; model ``k`` is trained with the ``k``-th seed of
    :func:`~bastion.backends.spawn_seeds`, so every backend trains the same models.

    Raises:
        ValidationError: a trained model does not match the target's classes.
        CapabilityError: ``train_fn`` returned a model without scores.
        InputTypeError: a process or Ray backend cannot ship ``train_fn`` (a lambda or closure).
    """
    rng = np.random.default_rng(seed)
    members = np.argsort(rng.random((n_models, len(x))), axis=0) < n_models // 2
    seeds = spawn_seeds(seed, n_models)
    jobs = [(train_fn, x[mask], y[mask], s) for mask, s in zip(members, seeds)]
    models = backend.map(_fit_reference, jobs, progress=progress, description=who)
    for model in models:
        _check_reference(model, target, who)
    return [ReferenceModel(model=model, members=mask) for model, mask in zip(models, members)]
