"""The evasion Attack base class: the shared work around each attack's core step.

The base class validates the model, inputs, labels and targets once, converts to torch,
splits the batch into chunks, seeds a private random generator, and applies the final
projection onto the eps-ball and the model's input range. A subclass writes only
``_attack``, which works on torch tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bastion.attacks import losses
from bastion.attacks.norms import NORMS, constrain
from bastion.mixins import ParamsReprMixin
from bastion.models.base import GRADIENTS, SCORES, Model, WhiteBoxModel, require
from bastion.validation import check_choice, check_labels, check_scalar

LOSSES = ("ce", "margin", "dlr")
DEFAULT_CHUNK = 256


def model_device(model: Model) -> torch.device:
    """Where an attack should put its tensors for ``model``."""
    return getattr(model, "device", torch.device("cpu"))


def objective(logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None, loss: str) -> torch.Tensor:
    """Per-sample objective an attack maximises, ``(n,)``.

    Untargeted: the loss of the true label (``"ce"``, ``"margin"`` or ``"dlr"``). Targeted:
    minus the cross-entropy or margin toward the target, or the targeted DLR loss.
    """
    if targets is None:
        return {"ce": losses.cross_entropy, "margin": losses.margin, "dlr": losses.dlr}[loss](logits, labels)
    if loss == "dlr":
        return losses.dlr_targeted(logits, labels, targets)
    return -{"ce": losses.cross_entropy, "margin": losses.margin}[loss](logits, targets)


def objective_gradient(
    model: WhiteBoxModel, x: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None, loss: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward and backward pass: ``(objective (n,), gradient like x, logits)``."""
    # enable_grad: attacks may be run from inside a caller's no_grad block.
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model.logits_tensor(x)
        values = objective(logits, labels, targets, loss)
        (gradient,) = torch.autograd.grad(values.sum(), x)
    return values.detach(), gradient, logits.detach()


def is_adversarial(logits_or_scores: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    """``(n,)`` bool: misclassified (untargeted) or classified as the target (targeted)."""
    # ``max``'s indices are ``argmax``'s (the first of tied maxima) at a quarter fewer
    # instructions on CPU; this check runs at every step of the gradient attacks.
    predictions = logits_or_scores.max(dim=1).indices
    return predictions != labels if targets is None else predictions == targets


def score_function(model: Model) -> Callable[[torch.Tensor], torch.Tensor]:
    """A torch function returning class probabilities, for score-based attacks.

    Uses the module directly for white-box models (no numpy round trip) and
    ``predict_proba`` otherwise; both count queries.
    """
    if GRADIENTS in model.capabilities:

        @torch.no_grad()
        def scores(x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(model.logits_tensor(x), dim=1)

        return scores
    require(model, SCORES, "a score-based attack")

    def remote_scores(x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(model.predict_proba(x.cpu().numpy()), device=x.device)

    return remote_scores


def label_function(model: Model) -> Callable[[torch.Tensor], torch.Tensor]:
    """A torch function returning predicted labels, for decision-based attacks."""
    if GRADIENTS in model.capabilities:

        @torch.no_grad()
        def labels(x: torch.Tensor) -> torch.Tensor:
            return model.logits_tensor(x).argmax(dim=1)

        return labels

    def remote_labels(x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(model.predict(x.cpu().numpy()), device=x.device)

    return remote_labels


class EvasionAttack(ParamsReprMixin):
    """Base class of evasion attacks: ``generate(model, x, y=None, *, target=None)``.

    Subclasses set ``requires`` (the model capability they need), store their
    hyperparameters as attributes (``eps`` and ``norm`` for bounded attacks, ``seed`` for
    randomised ones) and implement ``_attack``.
    """

    requires: str = GRADIENTS
    eps: float | None = None
    norm: str | None = None
    seed: int = 0

    def generate(self, model: Model, x: np.ndarray, y: np.ndarray | None = None, *, target: Any = None) -> np.ndarray:
        """Craft adversarial examples.

        Args:
            model: a bastion Model with the capability this attack needs.
            x: clean inputs ``(n, *model.input_shape)`` inside ``model.clip``.
            y: true labels ``(n,)``; when ``None`` the model's own predictions are used, so
                the attack never needs the labels (and never leaks them).
            target: ``None`` for an untargeted attack; an int class or ``(n,)`` labels to
                make the model predict that class.

        Returns:
            float32 array of ``x``'s shape, inside the eps-ball around ``x`` (bounded attacks)
            and inside ``model.clip``.

        Raises:
            CapabilityError: the model lacks what this attack needs.
            ValidationError: bad shapes, values, labels or targets.
        """
        require(model, self.requires, type(self).__name__)
        x = model.check_x(x)
        labels = model.predict(x) if y is None else check_labels(y, "y", n_samples=len(x), n_classes=model.n_classes)
        targets = self._check_target(target, len(x), model.n_classes)
        device = model_device(model)
        x_torch = torch.as_tensor(x, device=device)
        labels_torch = torch.as_tensor(labels, device=device)
        targets_torch = None if targets is None else torch.as_tensor(targets, device=device)
        generator = torch.Generator().manual_seed(self.seed)
        chunk = getattr(model, "batch_size", DEFAULT_CHUNK)
        pieces = []
        for start in range(0, len(x), chunk):
            stop = start + chunk
            pieces.append(
                self._attack(
                    model,
                    x_torch[start:stop],
                    labels_torch[start:stop],
                    None if targets_torch is None else targets_torch[start:stop],
                    generator,
                ).detach()
            )
        adversarial = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
        adversarial = constrain(x_torch, adversarial, self.norm, self.eps, model.clip)
        return adversarial.cpu().numpy().astype(np.float32, copy=False)

    def perturb(
        self,
        model: WhiteBoxModel,
        x: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator,
        *,
        targets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Tensors in, tensor out, no validation: the attack inside a training loop.

        Internal path for defenses (adversarial training) that attack every minibatch:
        ``generate`` minus the checks, the numpy round trip and the chunking. The caller
        guarantees ``x`` lies in ``model.clip`` on the model's device and owns ``generator``.
        Needs only ``model.logits_tensor`` and ``model.clip``. Returns a detached tensor inside
        the eps-ball (bounded attacks) and the input range.
        """
        adversarial = self._attack(model, x, labels, targets, generator).detach()
        return constrain(x, adversarial, self.norm, self.eps, model.clip)

    def _attack(
        self,
        model: Model,
        x: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None,
        generator: torch.Generator,
    ) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def _check_target(target: Any, n_samples: int, n_classes: int) -> np.ndarray | None:
        if target is None:
            return None
        if np.ndim(target) == 0:
            target = check_scalar(target, "target", kind=int, low=0, high=n_classes - 1)
            return np.full(n_samples, target, dtype=np.int64)
        return check_labels(target, "target", n_samples=n_samples, n_classes=n_classes)


def check_norm(norm: Any) -> str:
    """Validate a norm name (``"inf"`` or ``"2"``; ``np.inf`` and ``2`` are accepted)."""
    aliases = {np.inf: "inf", float("inf"): "inf", 2: "2", "linf": "inf", "l2": "2", "Linf": "inf", "L2": "2"}
    if isinstance(norm, (int, float)) or norm in aliases:
        norm = aliases.get(norm, norm)
    return check_choice(norm, "norm", NORMS)


def check_eps(eps: Any, name: str = "eps") -> float:
    """Validate a perturbation budget: a finite float >= 0, in the model's input units."""
    return check_scalar(eps, name, low=0)


def check_loss(loss: Any) -> str:
    """Validate an attack loss name."""
    return check_choice(loss, "loss", LOSSES)
