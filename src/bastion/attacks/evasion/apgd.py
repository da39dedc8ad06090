"""Auto-PGD: step-size-free projected gradient ascent with momentum."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from bastion.attacks.evasion.base import (
    EvasionAttack,
    check_eps,
    check_norm,
    is_adversarial,
    objective,
    objective_gradient,
)
from bastion.attacks.norms import ascent_direction, constrain, per_sample, random_start
from bastion.exceptions import ValidationError
from bastion.models.base import Model, WhiteBoxModel, require
from bastion.validation import check_choice, check_scalar, check_seed

APGD_LOSSES = ("ce", "dlr")


def checkpoints(steps: int) -> list[int]:
    """The iterations at which APGD may halve its step size (Croce & Hein 2020, Sec. 3.2).

    ``w_j = ceil(p_j * steps)`` with ``p_0 = 0``, ``p_1 = 0.22`` and
    ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``: checks are sparse at first and
    every 6% of the budget later on. Returns the increasing ``w_j`` in ``1 .. steps``
    (``w_0 = 0`` excluded).
    """
    previous, current = 0.0, 0.22
    found: list[int] = []
    while current <= 1.0:
        w = math.ceil(current * steps - 1e-9)
        if w >= 1 and (not found or w > found[-1]):
            found.append(w)
        previous, current = current, current + max(current - previous - 0.03, 0.06)
    return found


class APGD(EvasionAttack):
    """Auto-PGD (APGD-CE, APGD-DLR): PGD whose step size adapts itself, per sample.

    Croce & Hein, "Reliable Evaluation of Adversarial Robustness with an Ensemble of
    Diverse Parameter-free Attacks", ICML 2020, Sec. 3, Algorithm 1. Starting from a
    random point of the ball with step size ``eta = 2 * eps``, each iteration takes a
    gradient step ``z = P(x_k + eta * dir(grad))`` and adds momentum
    ``x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1}))`` with
    ``alpha = 0.75`` (Eq. 2). At the checkpoints ``w_j`` (see :func:`checkpoints`) a sample
    halves its step size and restarts from its best point so far when either
    (condition 1, Eq. 4) fewer than a fraction ``rho`` of its steps since the last
    checkpoint increased the objective, or (condition 2) its step size was not reduced at
    the last checkpoint and its best objective has not improved since. The L2 version uses
    the same schedule with L2-normalised gradient steps and projection, as in the authors'
    auto-attack code.

    Untargeted, the objective is the cross-entropy (``"ce"``) or the Difference of Logits
    Ratio (``"dlr"``, Eq. 6, needs 3 or more classes). Targeted (``generate(...,
    target=...)``), ``"dlr"`` is the targeted DLR loss (Eq. 7, needs 4 or more classes) and
    ``"ce"`` minimises the target's cross-entropy. Restarts ``2 .. n_restarts`` rerun from a
    fresh random point on the samples not yet adversarial.

    Each iteration is one forward and one backward pass; a run costs ``steps + 1`` model
    queries per sample (the last iterate is only evaluated, not differentiated).

    Returns, per sample, the adversarial iterate of highest objective if one was found,
    otherwise the iterate of highest objective. With ``early_stop=True`` a sample leaves
    the batch at its first adversarial iterate, which is returned: a sample's path does not
    depend on the others', so the samples found adversarial are the same, at a fraction of
    the cost when most are broken early (what a robust-accuracy evaluation needs;
    :func:`~bastion.attacks.robustness` uses it).

    Args:
        eps: radius of the ball, in the model's input units.
        steps: iterations per run (``N_iter``; the paper uses 100).
        norm: ``"inf"`` or ``"2"``.
        loss: ``"ce"`` or ``"dlr"``.
        n_restarts: runs from independent random starts.
        rho: condition-1 threshold, in (0, 1] (the paper's 0.75).
        early_stop: stop searching a sample at its first adversarial iterate.
        seed: seed of the random starts.
        progress: show a progress bar over the iterations.

    Raises:
        ValidationError: bad hyperparameters, or a DLR loss on a model with too few
            classes.

    Example:
        >>> x_adv = APGD(eps=0.1, loss="dlr").generate(model, x, y)
    """

    momentum = 0.75

    def __init__(
        self,
        eps: float,
        *,
        steps: int = 100,
        norm: str = "inf",
        loss: str = "ce",
        n_restarts: int = 1,
        rho: float = 0.75,
        early_stop: bool = False,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        self.eps = check_eps(eps)
        self.steps = check_scalar(steps, "steps", kind=int, low=1)
        self.norm = check_norm(norm)
        self.loss = check_choice(loss, "loss", APGD_LOSSES)
        self.n_restarts = check_scalar(n_restarts, "n_restarts", kind=int, low=1)
        self.rho = check_scalar(rho, "rho", low=0, high=1, include_low=False)
        self.early_stop = bool(early_stop)
        self.seed = check_seed(seed)
        self.progress = bool(progress)

    def generate(self, model: Model, x: np.ndarray, y: np.ndarray | None = None, *, target: Any = None) -> np.ndarray:
        """Craft adversarial examples; see :meth:`EvasionAttack.generate`.

        Raises:
            ValidationError: also when ``loss="dlr"`` meets a model with fewer than 3
                classes (untargeted) or 4 classes (targeted).
        """
        require(model, self.requires, type(self).__name__)
        if self.loss == "dlr":
            needed, kind = (3, "untargeted") if target is None else (4, "targeted")
            if model.n_classes < needed:
                raise ValidationError(
                    f"`loss` 'dlr' ({kind}) needs a model with at least {needed} classes, got "
                    f"{model.n_classes}; use loss='ce'"
                )
        return super().generate(model, x, y, target=target)

    def _attack(
        self,
        model: WhiteBoxModel,
        x: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None,
        generator: torch.Generator,
    ) -> torch.Tensor:
        result, best_values, found = self._run(model, x, labels, targets, generator)
        for _ in range(self.n_restarts - 1):
            remaining = (~found).nonzero().squeeze(1)
            if len(remaining) == 0:
                break
            targets_left = None if targets is None else targets[remaining]
            again, values, newly = self._run(model, x[remaining], labels[remaining], targets_left, generator)
            better = newly | (values > best_values[remaining])
            chosen = remaining[better]
            result[chosen] = again[better]
            best_values[chosen] = values[better]
            found[chosen] = newly[better]
        return result

    @staticmethod
    def _adversarial(logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
        """Which iterates count as found: the attack's own success criterion."""
        return is_adversarial(logits, labels, targets)

    def _run(
        self,
        model: WhiteBoxModel,
        x: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None,
        generator: torch.Generator,
        owners: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One APGD run: ``(points, their objective values, adversarial mask)``, one per row of ``x``.

        With ``early_stop``, a row leaves the batch once it is adversarial, or once any row
        of the same ``owners`` entry is (rows that attack one sample toward several targets).
        """
        n = len(x)
        ball = (self.norm, self.eps)
        clip = model.clip

        def step_to(point: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
            return constrain(origin, point, *ball, clip)

        current = step_to(x + random_start(x.shape, self.norm, self.eps, generator, x.device), x)
        values, gradient, logits = objective_gradient(model, current, labels, targets, self.loss)

        best_x, best_gradient, best_values = current, gradient, values
        adversarial = self._adversarial(logits, labels, targets)
        adv_x = current
        adv_values = torch.where(adversarial, values, torch.full_like(values, -math.inf))

        eta = torch.full((n,), 2.0 * self.eps, device=x.device)
        previous_x, previous_values = current, values
        increases = torch.zeros(n, device=x.device)
        reduced_last = torch.zeros(n, dtype=torch.bool, device=x.device)
        best_at_last_check = best_values
        marks = set(checkpoints(self.steps))
        last_mark = 0
        # Rows still searched (positions into x) and the finished rows' results.
        rows = torch.arange(n, device=x.device)
        out_points, out_values = x.clone(), torch.empty_like(values)
        out_adversarial = torch.zeros(n, dtype=torch.bool, device=x.device)
        n_owners = 0 if owners is None else int(owners.max()) + 1

        def finish(done: torch.Tensor) -> None:
            out_points[rows[done]] = torch.where(per_sample(adversarial[done], x), adv_x[done], best_x[done])
            out_values[rows[done]] = torch.where(adversarial[done], adv_values[done], best_values[done])
            out_adversarial[rows[done]] = adversarial[done]

        for k in tqdm(range(self.steps), desc="APGD", disable=not self.progress, leave=False):
            if self.early_stop and adversarial.any():
                done = adversarial
                if owners is not None:
                    broken = torch.zeros(n_owners, dtype=torch.bool, device=x.device)
                    done = broken.index_fill_(0, owners[rows[adversarial]], True)[owners[rows]]
                finish(done)
                keep = ~done
                rows = rows[keep]
                if len(rows) == 0:
                    break
                x, labels, current, previous_x, gradient, values, previous_values = (
                    t[keep] for t in (x, labels, current, previous_x, gradient, values, previous_values)
                )
                best_x, best_gradient, best_values, adv_x, adv_values, adversarial = (
                    t[keep] for t in (best_x, best_gradient, best_values, adv_x, adv_values, adversarial)
                )
                eta, increases, reduced_last, best_at_last_check = (
                    t[keep] for t in (eta, increases, reduced_last, best_at_last_check)
                )
                targets = None if targets is None else targets[keep]
            z = step_to(current + per_sample(eta, x) * ascent_direction(gradient, self.norm), x)
            if k > 0:
                z = step_to(current + self.momentum * (z - current) + (1 - self.momentum) * (current - previous_x), x)
            previous_x, current = current, z
            if k < self.steps - 1:
                values, gradient, logits = objective_gradient(model, current, labels, targets, self.loss)
            else:
                with torch.no_grad():
                    logits = model.logits_tensor(current)
                    values = objective(logits, labels, targets, self.loss)

            increases += values > previous_values
            previous_values = values
            improved = values > best_values
            best_values = torch.where(improved, values, best_values)
            best_x = torch.where(per_sample(improved, x), current, best_x)
            best_gradient = torch.where(per_sample(improved, x), gradient, best_gradient)

            now_adversarial = self._adversarial(logits, labels, targets) & (values > adv_values)
            adv_values = torch.where(now_adversarial, values, adv_values)
            adv_x = torch.where(per_sample(now_adversarial, x), current, adv_x)
            adversarial |= now_adversarial

            if k + 1 in marks:
                mark = k + 1
                oscillating = increases < self.rho * (mark - last_mark)
                stalled = ~reduced_last & (best_values <= best_at_last_check)
                reduce = oscillating | stalled
                eta = torch.where(reduce, eta / 2, eta)
                # Restart from the best point, without momentum carried over from the old path.
                back = per_sample(reduce, x)
                current = torch.where(back, best_x, current)
                previous_x = torch.where(back, best_x, previous_x)
                gradient = torch.where(back, best_gradient, gradient)
                previous_values = torch.where(reduce, best_values, previous_values)
                reduced_last, best_at_last_check = reduce, best_values
                increases = torch.zeros_like(increases)
                last_mark = mark

        if len(rows):
            finish(torch.ones(len(rows), dtype=torch.bool, device=x.device))
        return out_points, out_values, out_adversarial
