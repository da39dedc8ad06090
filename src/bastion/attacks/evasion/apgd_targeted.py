"""APGD-T: Auto-PGD on the targeted DLR loss, run against each of the top-k other classes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bastion.attacks.evasion.apgd import APGD
from bastion.attacks.evasion.base import DEFAULT_CHUNK, is_adversarial
from bastion.exceptions import ValidationError
from bastion.models.base import require
from bastion.validation import check_scalar


def ranked_other_classes(model: Any, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``(n, n_classes)``: each sample's other classes by clean logit, most likely first.

    The label comes last. Column ``k`` is the ``k``-th target of APGD-T and FAB-T (the
    authors' code ranks the classes of the clean logits the same way). Costs one query per
    sample.
    """
    with torch.no_grad():
        logits = model.logits_tensor(x)
    return logits.scatter(1, labels[:, None], float("-inf")).argsort(dim=1, descending=True)


class APGDT(APGD):
    """APGD-T: an untargeted attack made of targeted APGD-DLR runs, one per likely class.

    Croce & Hein, "Reliable Evaluation of Adversarial Robustness with an Ensemble of
    Diverse Parameter-free Attacks", ICML 2020, Sec. 4 and 5 (the ``APGD-T`` member of
    AutoAttack). For each sample the other classes are ranked by the clean logits; run ``k``
    (``k = 1 .. n_target_classes``) is an :class:`APGD` run that maximises the targeted DLR
    loss (Eq. 7) toward the ``k``-th ranked class. A run counts any misclassification as a
    success, not only the target (as in the authors' auto-attack code), so a sample leaves
    as soon as one run moves it off its label. The authors run the targets one after the
    other; here the runs of several targets go through the model in one batch (as many as
    fit in the model's ``batch_size`` rows), each run on its own path, and a sample's runs
    all stop at its first adversarial iterate. A sample's paths do not depend on each
    other, so the samples broken are those the one-after-the-other order breaks, with far
    fewer, larger batches. ``n_restarts`` rounds of random restarts repeat the targets on
    the samples still unbroken.

    Standard AutoAttack uses 9 targets (every other class of a 10-class task), 100
    iterations and one restart. The targeted DLR loss needs 4 or more classes; on a model
    with fewer classes than ``n_target_classes + 1`` every other class is a target.

    Cost: ``steps + 1`` queries per sample and run, plus one query per sample to rank the
    classes; at most ``n_target_classes * n_restarts`` runs.

    Returns, per sample, the first adversarial iterate found (the lowest-ranked target's
    on a tie); samples no run misclassified get the point of the first run (highest
    targeted DLR toward the runner-up class).

    Args:
        eps: radius of the ball, in the model's input units.
        steps: iterations per run (the paper's 100).
        norm: ``"inf"`` or ``"2"``.
        n_target_classes: how many of the top-ranked other classes to target, at least 1.
        n_restarts: runs per target class from independent random starts.
        rho: APGD's condition-1 threshold, in (0, 1].
        seed: seed of the random starts.
        progress: show a progress bar over each run's iterations.

    Raises:
        ValidationError: bad hyperparameters; (in ``generate``) a model with fewer than 4
            classes, or a ``target`` (APGD-T picks its own targets; for one given target use
            ``APGD(loss="dlr")`` with ``target=``).

    Example:
        >>> x_adv = APGDT(eps=0.1, n_target_classes=9).generate(model, x, y)
    """

    def __init__(
        self,
        eps: float,
        *,
        steps: int = 100,
        norm: str = "inf",
        n_target_classes: int = 9,
        n_restarts: int = 1,
        rho: float = 0.75,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        super().__init__(
            eps,
            steps=steps,
            norm=norm,
            loss="dlr",
            n_restarts=n_restarts,
            rho=rho,
            early_stop=True,
            seed=seed,
            progress=progress,
        )
        self.n_target_classes = check_scalar(n_target_classes, "n_target_classes", kind=int, low=1)

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray | None = None, *, target: Any = None) -> np.ndarray:
        """Craft adversarial examples (untargeted); see :meth:`EvasionAttack.generate`."""
        require(model, self.requires, type(self).__name__)
        if target is not None:
            raise ValidationError(
                "`target` must be None for APGDT, which picks its own targets, got "
                f"{target!r}; use APGD(eps, loss='dlr').generate(..., target=...) for one target"
            )
        if model.n_classes < 4:
            raise ValidationError(
                f"APGDT's targeted DLR loss needs a model with at least 4 classes, got {model.n_classes}; "
                "use APGD(loss='ce')"
            )
        return super().generate(model, x, y)

    @staticmethod
    def _adversarial(logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
        return is_adversarial(logits, labels, None)

    def _attack(self, model: Any, x, labels, targets, generator) -> torch.Tensor:
        ranking = ranked_other_classes(model, x, labels)
        groups = rank_groups(model, len(x), min(self.n_target_classes, model.n_classes - 1))
        result = x.clone()
        found = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for restart in range(self.n_restarts):
            for ranks in groups:
                remaining = (~found).nonzero().squeeze(1)
                if len(remaining) == 0:
                    return result
                owners, goals = target_rows(ranking, remaining, ranks)
                points, _, newly = self._run(model, x[owners], labels[owners], goals, generator, owners=owners)
                if restart == 0 and ranks.start == 0:
                    result[remaining] = points[: len(remaining)]
                rows = first_row_per_owner(owners, newly)
                result[owners[rows]] = points[rows]
                found[owners[rows]] = True
        return result


def rank_groups(model: Any, n_samples: int, n_ranks: int) -> list[range]:
    """The target ranks ``0 .. n_ranks - 1`` in groups run as one batch.

    A group holds as many targets as fit ``n_samples`` rows each into the model's batch
    size (at least one), so the runs of APGD-T and FAB-T toward several targets share one
    pass through the model without batches larger than the model's.
    """
    per_batch = max(1, getattr(model, "batch_size", DEFAULT_CHUNK) // max(n_samples, 1))
    return [range(start, min(start + per_batch, n_ranks)) for start in range(0, n_ranks, per_batch)]


def target_rows(ranking: torch.Tensor, samples: torch.Tensor, ranks: range) -> tuple[torch.Tensor, torch.Tensor]:
    """``(owners, goals)``: one row per sample and target rank, target-major.

    Row ``i`` attacks sample ``owners[i]`` toward class ``goals[i]``; the first
    ``len(samples)`` rows are the first rank's.
    """
    return samples.repeat(len(ranks)), ranking[samples, ranks.start : ranks.stop].T.reshape(-1)


def first_row_per_owner(owners: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Positions of the first row with ``mask`` set for each ``owners`` value that has one."""
    rows = mask.nonzero().squeeze(1)
    if len(rows) == 0:
        return rows
    unique, inverse = torch.unique(owners[rows], return_inverse=True)
    first = torch.full((len(unique),), len(owners), dtype=rows.dtype, device=rows.device)
    return first.scatter_reduce_(0, inverse, rows, reduce="amin")
