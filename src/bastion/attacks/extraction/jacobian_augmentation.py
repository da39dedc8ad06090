"""Jacobian-based dataset augmentation (Papernot et al. 2017) and transfer of its adversarials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from bastion.attacks.evasion.fgsm import FGSM
from bastion.attacks.extraction.base import ExtractionAttack, ExtractionResult, QueryBudget
from bastion.attacks.extraction.substitutes import Builder, as_model, build_substitute, check_architecture
from bastion.models.base import LABELS, Model
from bastion.models.training import fit
from bastion.validation import check_inputs, check_scalar, check_seed


@dataclass(frozen=True)
class JacobianResult(ExtractionResult):
    """An :class:`ExtractionResult` plus the transfer of the substitute's adversarial examples.

    Attributes:
        transfer_eps: the L-inf budget of the substitute's FGSM examples, in input units.
        transfer_rate: fraction of FGSM examples (crafted on the substitute from the
            evaluation inputs) the target misclassifies, in [0, 1] (Papernot et al.'s
            "adversarial examples misclassified by the oracle"); against the evaluation
            labels when given, else against the target's clean labels.
        target_clean_error: the target's error on the clean evaluation inputs, the baseline
            of ``transfer_rate``, in [0, 1].
    """

    transfer_eps: float
    transfer_rate: float
    target_clean_error: float


class JacobianAugmentation(ExtractionAttack):
    """Grow a small seed set by Jacobian-based augmentation; train a substitute on the labels.

    Papernot, McDaniel, Goodfellow, Jha, Celik & Swami, "Practical Black-Box Attacks against
    Machine Learning", AsiaCCS 2017, Sec. 4 (Alg. 1): label the seed set ``S_0`` with the
    target, train the substitute ``F`` on it, and augment
    ``S_{r+1} = S_r ∪ {x + lambda_r · sign(J_F(x)[O(x)]) : x ∈ S_r}`` where ``O(x)`` is the
    target's label and ``J_F`` the Jacobian of ``F``'s softmax. Each round doubles the set,
    so ``rounds`` rounds from ``n`` seeds cost ``n · 2^rounds`` label queries (100 seeds,
    6 rounds: 6,400, the paper's MetaMind budget). The step alternates sign every ``tau``
    rounds (the periodic step size of Papernot, McDaniel & Goodfellow, "Transferability in
    Machine Learning", arXiv:1605.07277, 2016). When the budget cannot pay a full round, only
    a random subset of ``S_r`` is augmented (as in that paper's reservoir sampling), so the
    budget is spent exactly and never exceeded.

    Transfer (Sec. 5): FGSM examples of budget ``transfer_eps`` crafted on the substitute
    from the evaluation inputs are sent to the target (off the attacker's budget);
    ``transfer_rate`` is the fraction it misclassifies. The paper reports 84.24% against
    MetaMind on MNIST at eps 0.3.

    Labels only: the target needs nothing but ``predict``.

    Args:
        seed_set: the attacker's initial inputs ``(n, *input_shape)`` (the paper: 150 MNIST
            test images, 10-15 per class).
        rounds: substitute training epochs ``rho`` (augmentation rounds).
        step: the augmentation step ``lambda`` in input units (the paper: 0.1).
        tau: rounds between sign flips of the step (Papernot et al. 2016 use 3).
        architecture: the substitute, a zoo name or a callable
            ``(input_shape, n_classes, seed) -> nn.Module``.
        epochs, lr, batch_size: training of the substitute at each round (the paper: 10
            epochs, from its previous weights).
        transfer_eps: L-inf budget of the transferred FGSM examples.
        progress: show progress bars.
        seed: seeds every random choice; same seed, same stolen model.

    Example:
        >>> attack = JacobianAugmentation(x_seed, rounds=6)
        >>> result = attack.extract(model, budget=6400, x_eval=x_test, y_eval=y_test)
        >>> result.transfer_rate
    """

    requires = LABELS
    result_class = JacobianResult

    def __init__(
        self,
        seed_set: np.ndarray,
        *,
        rounds: int = 6,
        step: float = 0.1,
        tau: int = 3,
        architecture: str | Builder = "mlp",
        epochs: int = 10,
        lr: float = 1e-3,
        batch_size: int = 32,
        transfer_eps: float = 0.3,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.seed_set = check_inputs(seed_set, "seed_set")
        self.rounds = check_scalar(rounds, "rounds", kind=int, low=0)
        self.step = check_scalar(step, "step", low=0, include_low=False)
        self.tau = check_scalar(tau, "tau", kind=int, low=1)
        self.architecture = check_architecture(architecture)
        self.epochs = check_scalar(epochs, "epochs", kind=int, low=1)
        self.lr = check_scalar(lr, "lr", low=0, include_low=False)
        self.batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
        self.transfer_eps = check_scalar(transfer_eps, "transfer_eps", low=0)
        self.progress = bool(progress)
        self.seed = check_seed(seed)

    def minimum_budget(self, model: Model) -> int:
        """The seed set's size: every seed must be labelled."""
        return len(self.seed_set)

    def _minimum_reason(self, model: Model) -> str:
        return f"the {len(self.seed_set)} seed inputs must be labelled"

    def _steal(self, target: QueryBudget, budget: int, seed: int) -> Any:
        x = target.check_x(self.seed_set, "seed_set")
        y = target.predict(x)
        rng = np.random.default_rng(seed)
        module = build_substitute(self.architecture, target, seed)
        low, high = target.clip
        for round_index in tqdm(range(self.rounds + 1), desc="jacobian augmentation", disable=not self.progress):
            fit(
                module,
                x,
                y,
                epochs=self.epochs,
                lr=self.lr,
                batch_size=self.batch_size,
                seed=(seed + round_index) % 2**32,
                progress=False,
            )
            if round_index == self.rounds or target.remaining == 0:
                break
            parents = np.arange(len(x))
            if target.remaining < len(x):
                parents = np.sort(rng.choice(len(x), size=target.remaining, replace=False))
            sign = -1.0 if (round_index // self.tau) % 2 else 1.0
            direction = self._jacobian_sign(module, x[parents], y[parents])
            children = np.clip(x[parents] + sign * self.step * direction, low, high).astype(np.float32)
            x = np.concatenate([x, children])
            y = np.concatenate([y, target.predict(children)])
        return as_model(module, target)

    @staticmethod
    def _jacobian_sign(module: torch.nn.Module, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """``sign(d F_{label}(x) / dx)`` for each input, with ``F`` the softmax, batched."""
        inputs = torch.as_tensor(x).requires_grad_(True)
        probabilities = torch.softmax(module(inputs), dim=1)
        chosen = probabilities.gather(1, torch.as_tensor(labels)[:, None]).sum()
        (gradient,) = torch.autograd.grad(chosen, inputs)
        return torch.sign(gradient).numpy()

    def _extra(self, stolen: Model, target: Model, x_eval: np.ndarray, y_eval: np.ndarray | None) -> dict[str, Any]:
        clean = target.predict(x_eval)
        reference = clean if y_eval is None else y_eval
        adversarial = FGSM(self.transfer_eps).generate(stolen, x_eval, reference)
        return {
            "transfer_eps": self.transfer_eps,
            "transfer_rate": float(np.mean(target.predict(adversarial) != reference)),
            "target_clean_error": float(np.mean(clean != reference)),
        }
