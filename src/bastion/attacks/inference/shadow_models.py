"""The shadow-model membership attack of Shokri et al. (2017)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bastion.attacks.inference.base import MembershipAttack, log_probabilities
from bastion.attacks.inference.reference import check_train_fn, train_reference_models
from bastion.exceptions import InputTypeError
from bastion.models.base import Model
from bastion.validation import check_scalar, check_seed

# Logit-scaled probabilities beyond +-50 nats carry nothing an attack model can use, and
# would dominate a linear model's scaling.
_LOGIT_BOUND = 50.0


def attack_features(log_probs: np.ndarray) -> np.ndarray:
    """The attack model's input: the prediction vector, logit-scaled per class.

    Shokri et al. feed the prediction vector itself; ``log(p_j / (1 - p_j))`` is a monotone
    per-coordinate transform of it that spreads the probabilities a confident model crowds
    against 0 and 1 (the scaling LiRA applies to the true class, Carlini et al. 2022).
    Clipped to [-50, 50].
    """
    # log(1 - p) = log(-expm1(log p)), exact for p near 0 and near 1.
    log_rest = np.log(-np.expm1(np.minimum(log_probs, -1e-300)))
    return np.clip(log_probs - log_rest, -_LOGIT_BOUND, _LOGIT_BOUND)


class ShadowModels(MembershipAttack):
    """Learn what a member's prediction vector looks like from models the attacker trained.

    Shokri et al. 2017, "Membership Inference Attacks against Machine Learning Models"
    (S&P), Sec. IV-B to IV-D. The attacker trains ``n_shadow`` shadow models that imitate
    the target, each on a random ``shadow_size`` subset of its pool (subsets overlap, as
    the paper allows). A shadow model's prediction vectors on its own training records are
    labelled "in", on the rest of the pool "out" (the paper's "out" set is disjoint from the
    "in" set and of equal size; using every other record of the pool instead gives the
    attack models more data and measured a higher AUC on digits). One
    binary attack model per class (Sec. IV-D: membership shows differently in each class)
    learns to tell "in" from "out"; scoring passes the target's prediction vector for
    ``(x, y)`` to the attack model of class ``y`` and returns its membership probability.

    Threat model: black-box access to the target's class probabilities; a pool of records
    from the target's data distribution (disjoint from the target's training set); a
    ``train_fn(x, y, seed) -> Model`` that trains models as the target was trained (see
    :func:`~bastion.attacks.inference.train_like`).

    Args:
        train_fn: trains one shadow model: ``train_fn(x, y, seed) -> Model``.
        n_shadow: how many shadow models to train.
        shadow_size: training records per shadow model; ``None`` takes half the pool. Match
            the target's training-set size when known.
        attack_model: an unfitted scikit-learn binary classifier with ``predict_proba``,
            cloned once per class; ``None`` uses standardised logistic regression.
        seed: seeds the subsets, the shadow models' training and the attack models.
        progress: show a progress bar while training.

    Attributes:
        shadow_models_: the trained shadow models (after ``fit``).
        attack_models_: one fitted attack model per class (after ``fit``).

    Example:
        >>> attack = ShadowModels(train_fn=train_like(target, epochs=100), n_shadow=4)
        >>> attack.fit(target, x_pool, y_pool).score(target, x, y)
    """

    needs_fit = True

    def __init__(
        self,
        *,
        train_fn: Any,
        n_shadow: int = 4,
        shadow_size: int | None = None,
        attack_model: Any = None,
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self.train_fn = check_train_fn(train_fn)
        self.n_shadow = check_scalar(n_shadow, "n_shadow", kind=int, low=1)
        self.shadow_size = None if shadow_size is None else check_scalar(shadow_size, "shadow_size", kind=int, low=2)
        if attack_model is not None and not (hasattr(attack_model, "fit") and hasattr(attack_model, "predict_proba")):
            raise InputTypeError(
                "`attack_model` must be a scikit-learn classifier with fit and predict_proba, got "
                f"{type(attack_model).__name__}"
            )
        self.attack_model = attack_model
        self.seed = check_seed(seed)
        self.progress = bool(progress)

    def _template(self) -> Any:
        if self.attack_model is not None:
            template = clone(self.attack_model)
            if "random_state" in template.get_params():
                template.set_params(random_state=self.seed)
            return template
        # Binary with one feature per class: Newton's method converges in a few steps.
        return make_pipeline(StandardScaler(), LogisticRegression(solver="newton-cholesky", max_iter=1000))

    def _fit(self, model: Model, x: np.ndarray, y: np.ndarray) -> None:
        size = self.shadow_size if self.shadow_size is not None else len(x) // 2
        shadows = train_reference_models(
            self.train_fn,
            x,
            y,
            n_models=self.n_shadow,
            size=size,
            target=model,
            seed=self.seed,
            progress=self.progress,
            who="shadow models",
        )
        features = np.concatenate([attack_features(log_probabilities(s.model, x)) for s in shadows])
        membership = np.concatenate([s.members for s in shadows]).astype(np.int64)
        classes = np.tile(y, len(shadows))
        self.attack_models_ = {}
        for label in range(model.n_classes):
            rows = classes == label
            # A class absent from the pool (or only ever in/out) gets no attack model:
            # its records score 0.5, "no idea".
            if np.unique(membership[rows]).size == 2:
                self.attack_models_[label] = self._template().fit(features[rows], membership[rows])
        self.shadow_models_ = [s.model for s in shadows]

    def _score(self, model: Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        features = attack_features(log_probabilities(model, x))
        scores = np.full(len(x), 0.5)
        for label, attack_model in self.attack_models_.items():
            rows = y == label
            if rows.any():
                scores[rows] = attack_model.predict_proba(features[rows])[:, 1]
        return scores
