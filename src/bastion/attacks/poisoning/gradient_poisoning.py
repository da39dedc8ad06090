"""Gradient poisoning of a linear learner (Biggio, Nelson & Laskov 2012)."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from bastion.attacks.poisoning.base import PoisonedDataset
from bastion.attacks.poisoning.checks import check_dataset
from bastion.data.dataset import Dataset
from bastion.exceptions import ValidationError
from bastion.mixins import ParamsReprMixin
from bastion.models.representations import data_range
from bastion.validation import check_choice, check_scalar, check_seed

LEARNERS = ("svm", "logistic")


def _loss(margins: torch.Tensor, learner: str) -> torch.Tensor:
    # Squared hinge keeps the SVM's loss differentiable (the L2-SVM); softplus(-m) is the logistic loss.
    if learner == "svm":
        return torch.clamp(1.0 - margins, min=0.0) ** 2
    return torch.nn.functional.softplus(-margins)


def _derivatives(margins: torch.Tensor, learner: str) -> tuple[torch.Tensor, torch.Tensor]:
    """First and second derivative of the loss with respect to the margin."""
    if learner == "svm":
        return -2.0 * torch.clamp(1.0 - margins, min=0.0), 2.0 * (margins < 1.0).to(margins.dtype)
    sigmoid = torch.sigmoid(-margins)
    return -sigmoid, sigmoid * (1.0 - sigmoid)


class GradientPoisoning(ParamsReprMixin):
    """Craft a few training points by gradient ascent on the learner's validation loss.

    Biggio, Nelson & Laskov, "Poisoning Attacks against Support Vector Machines", ICML 2012,
    Sec. 3 (Alg. 1): an attack point ``x_c`` with a flipped label starts as a copy of a
    training point of the other class, and moves along ``grad_{x_c} L_val(w(x_c))``, the
    gradient of the validation hinge loss through the learner's solution ``w``. Biggio et al.
    differentiate the SVM's KKT conditions; bastion differentiates through an **unrolled
    training** instead: ``inner_steps`` Newton steps (from zero) of a linear model (weights and
    bias, L2-regularised) on the training set plus the poison, written in torch, so
    ``torch.autograd`` gives the gradient with respect to every poison point at once. Newton's
    method reaches the optimum of these convex objectives in a few steps, so this is the
    gradient through the optimality conditions, obtained by autograd rather than by hand. All
    points move jointly, where Alg. 1 moves one at a time. ``learner="svm"``
    trains on the squared hinge loss (a smooth stand-in for the hinge), ``"logistic"`` on the
    logistic loss. Each step moves each point by ``step_size`` (L2, input units) along its
    normalised gradient and clips it to the data range. The attacker's validation set is the
    clean training set (the attacker knows the data, Sec. 2).

    Binary tasks only (e.g. breast_cancer or two digits classes).

    Args:
        n_points: how many poison points to inject.
        learner: the surrogate learner, ``"svm"`` or ``"logistic"``.
        steps: gradient-ascent steps on the poison points.
        step_size: L2 length of each step; default a tenth of the data box's diagonal.
        inner_steps: Newton steps of the unrolled training.
        reg: L2 regularisation of the linear model (``1 / (C n)`` in SVM terms).
        progress: show a progress bar over the ascent steps.
        seed: seeds the choice of the initial points.

    Raises:
        ValidationError: ``n_points < 1`` or a setting out of range; at ``poison`` time a
            dataset that is not binary or a class without training rows.

    Example:
        >>> poisoned = GradientPoisoning(10, learner="svm").poison(binary_dataset)
    """

    def __init__(
        self,
        n_points: int,
        *,
        learner: str = "svm",
        steps: int = 100,
        step_size: float | None = None,
        inner_steps: int = 15,
        reg: float = 1e-2,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.n_points = check_scalar(n_points, "n_points", kind=int, low=1)
        self.learner = check_choice(learner, "learner", LEARNERS)
        self.steps = check_scalar(steps, "steps", kind=int, low=1)
        self.step_size = None if step_size is None else check_scalar(step_size, "step_size", low=0, include_low=False)
        self.inner_steps = check_scalar(inner_steps, "inner_steps", kind=int, low=1)
        self.reg = check_scalar(reg, "reg", low=0, include_low=False)
        self.progress = bool(progress)
        self.seed = check_seed(seed)

    def _train(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Newton's method from zero on ``mean loss(s (x w + b)) + reg/2 |w|^2``; differentiable in ``x``.

        Returns ``theta = (w, b)``. Each step solves a ``(d + 1)``-square system, so a few
        steps reach the optimum of these convex objectives and the unrolled steps carry the
        implicit gradient of the optimality conditions.
        """
        augmented = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
        penalty = torch.full((augmented.shape[1],), self.reg, dtype=x.dtype)
        penalty[-1] = 1e-8
        theta = torch.zeros(augmented.shape[1], dtype=x.dtype)
        for _ in range(self.inner_steps):
            first, second = _derivatives(s * (augmented @ theta), self.learner)
            gradient = augmented.T @ (s * first) / len(x) + penalty * theta
            hessian = (augmented.T * second) @ augmented / len(x) + torch.diag(penalty)
            theta = theta - torch.linalg.solve(hessian, gradient)
        return theta

    def poison(self, dataset: Dataset) -> PoisonedDataset:
        """Return the training set with the optimised points appended, and their mask.

        Raises:
            InputTypeError: ``dataset`` is not a Dataset.
            ValidationError: the dataset is not binary.
        """
        dataset = check_dataset(dataset)
        if dataset.n_classes != 2:
            raise ValidationError(
                f"`dataset` must be a binary task for GradientPoisoning, got {dataset.n_classes} classes "
                f"in {dataset.name!r}; keep two classes (e.g. two digits)"
            )
        y = dataset.y_train
        low, high = data_range(dataset.x_train)
        x = torch.as_tensor(dataset.x_train.reshape(len(y), -1), dtype=torch.float64)
        s = torch.as_tensor(2.0 * y - 1.0, dtype=torch.float64)
        rng = np.random.default_rng(self.seed)
        start = rng.choice(len(y), size=self.n_points, replace=self.n_points > len(y))
        poison = x[start].clone()
        s_poison = -s[start]
        step = self.step_size if self.step_size is not None else 0.1 * (high - low) * float(np.sqrt(x.shape[1]))
        s_all = torch.cat([s, s_poison])
        with torch.enable_grad():
            for _ in tqdm(range(self.steps), desc="gradient poisoning", disable=not self.progress, leave=False):
                poison.requires_grad_(True)
                theta = self._train(torch.cat([x, poison]), s_all)
                validation = _loss(s * (x @ theta[:-1] + theta[-1]), self.learner).mean()
                (gradient,) = torch.autograd.grad(validation, poison)
                norms = gradient.norm(dim=1, keepdim=True).clamp_min(1e-12)
                poison = (poison.detach() + step * gradient / norms).clamp(low, high)
        n = len(y)
        mask = np.concatenate([np.zeros(n, dtype=bool), np.ones(self.n_points, dtype=bool)])
        crafted = poison.detach().numpy().astype(np.float32).reshape(self.n_points, *dataset.input_shape)
        return PoisonedDataset.from_dataset(
            dataset,
            x_train=np.concatenate([dataset.x_train, crafted]),
            y_train=np.concatenate([y, 1 - y[start]]),
            poison_mask=mask,
            attack=repr(self),
        )
