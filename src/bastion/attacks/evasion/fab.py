"""FAB: the Fast Adaptive Boundary attack, a minimum-norm white-box attack."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from bastion.attacks.evasion.apgd_targeted import first_row_per_owner, rank_groups, ranked_other_classes, target_rows
from bastion.attacks.evasion.base import EvasionAttack, check_eps, check_norm, is_adversarial
from bastion.attacks.norms import norms, per_sample
from bastion.exceptions import ValidationError
from bastion.models.base import require
from bastion.validation import check_scalar, check_seed

# Restart radius when no eps is given, as a fraction of the input range (per feature for
# L-inf, over the whole input for L2): the authors' defaults of 0.3 and 1.0 on [0, 1].
_DEFAULT_RADIUS = {"inf": 0.3, "2": 1.0}
_FLOOR = 1e-8


def box_hyperplane_step(
    points: torch.Tensor, w: torch.Tensor, c: torch.Tensor, low: float, high: float, norm: str
) -> torch.Tensor:
    """The smallest step ``d`` with ``w . d = c`` that keeps ``points + d`` in the box.

    Minimises ``||d||`` (L-inf or L2) subject to ``w . d = c`` and
    ``low <= points + d <= high``, row by row: the projection onto the intersection of a
    hyperplane and the input box that FAB takes at every iteration (Croce & Hein 2020,
    Sec. 3.1, Eq. 5-6). With the sign of ``w`` chosen so that ``c >= 0``, the optimum moves
    each coordinate toward its helpful edge by ``min(mu * s_i, room_i)``, where ``room_i``
    is the distance to that edge and ``s_i = 1`` (L-inf) or ``|w_i|`` (L2, the KKT
    conditions). ``w . d`` grows piecewise linearly in ``mu`` with a knee where each
    coordinate saturates; sorting the knees gives the exact ``mu`` in ``O(d log d)``.
    When no point of the box reaches the hyperplane, every coordinate moves to its
    helpful edge (the closest the box gets).

    Args:
        points: ``(n, d)`` points inside the box.
        w: ``(n, d)`` hyperplane normals.
        c: ``(n,)`` required ``w . d``.
        low, high: the box, the same for every coordinate.
        norm: ``"inf"`` or ``"2"``.

    Returns:
        ``(n, d)`` steps, in ``points``' dtype.
    """
    sign = torch.where(c < 0, -1.0, 1.0).to(w.dtype)[:, None]
    w, c = w * sign, c.abs()
    room = torch.where(w > 0, high - points, points - low).clamp_min(0)
    magnitude = w.abs()
    active = magnitude > 0
    scale = torch.ones_like(magnitude) if norm == "inf" else magnitude
    knee = torch.where(active, room / scale.clamp_min(torch.finfo(w.dtype).tiny), math.inf)
    slope = torch.where(active, magnitude * scale, 0.0)
    cap = torch.where(active, magnitude * room, 0.0)

    order = knee.argsort(dim=1)
    knee_sorted = knee.gather(1, order)
    saturated = cap.gather(1, order).cumsum(dim=1)
    free = slope.sum(dim=1, keepdim=True) - slope.gather(1, order).cumsum(dim=1)
    reach = torch.where(torch.isinf(knee_sorted), math.inf, saturated + knee_sorted * free.clamp_min(0))
    reach = reach.cummax(dim=1).values
    k = torch.searchsorted(reach, c[:, None].contiguous()).clamp_max(w.shape[1] - 1)
    before_saturated = torch.where(k > 0, saturated.gather(1, (k - 1).clamp_min(0)), 0.0)
    before_free = torch.where(k > 0, free.gather(1, (k - 1).clamp_min(0)), slope.sum(dim=1, keepdim=True))
    mu = ((c[:, None] - before_saturated) / before_free.clamp_min(torch.finfo(w.dtype).tiny)).clamp_min(0)
    feasible = (c <= cap.sum(dim=1))[:, None]
    move = torch.where(feasible, torch.minimum(mu * scale, room), room)
    return torch.where(active, w.sign() * move, 0.0)


class FAB(EvasionAttack):
    """Fast Adaptive Boundary attack: the closest adversarial example, by linearisation.

    Croce & Hein, "Minimally distorted Adversarial Examples with a Fast Adaptive Boundary
    Attack", ICML 2020, Sec. 3, Algorithm 1, following the authors' auto-attack code. At
    each iteration the decision boundary toward the closest other class (untargeted: the
    class ``j`` minimising ``|f_j - f_y| / ||grad f_j - grad f_y||_q``, ``q`` the dual
    norm; targeted: the given class) is linearised at the current point ``x_k``. Both
    ``x_k`` and the original ``x_0`` are projected onto that hyperplane inside the input
    box (:func:`box_hyperplane_step`, giving steps ``d_k`` and ``d_0``), and the next point
    is the extrapolated mix (Eq. 8)
    ``x_{k+1} = (1 - a)(x_k + eta d_k) + a (x_0 + eta d_0)`` with
    ``a = min(|d_k| / (|d_k| + |d_0|), alpha_max)``. Once a point is adversarial it is
    recorded if it is the closest so far, and the search steps back toward the original,
    ``x_{k+1} = x_0 + beta (x_{k+1} - x_0)``, to look for a closer one. Restarts ``2 ..
    n_restarts`` start from a random point at half the radius (``eps``, or half the best
    norm found, or the authors' default 0.3 / 1.0 of the range).

    Targeted (``targeted=True``, AutoAttack's FAB-T), run ``k`` linearises the boundary
    toward the ``k``-th most likely other class at the clean input, for the top
    ``n_target_classes``; any misclassification counts as a success, as in the authors'
    code. A given ``target=`` in ``generate`` instead attacks that class and counts only it.
    The authors run the targets one after the other; here the runs of several targets go
    through the model in one batch (as many as fit in the model's ``batch_size`` rows),
    each on its own path, and each sample keeps its closest point over its runs. Restarts
    come after every target has had its first run.

    With ``eps`` set, a sample counts as broken once an adversarial point lies inside the
    ``eps``-ball; it then leaves the search (later iterations and runs skip it), and samples
    with none are returned unchanged, so the result lies inside the ball. With
    ``eps=None`` the attack is unbounded and returns, per sample, the smallest adversarial
    perturbation found over every run (or the input, if none).

    Cost per iteration and sample still searched: one forward pass and one backward pass
    per class (untargeted) or one (targeted), plus a forward pass after a success. The pass
    that checks whether the new point is adversarial also linearises the boundary there for
    the next iteration (the authors' code spends a separate forward pass on the check). A
    point that steps back after a success needs its boundary where it stepped to, so a row
    that succeeded at the previous iteration (and will likely again) is checked with a
    forward pass only and linearised after its step: what the authors' code spends.

    Args:
        eps: radius that counts as a success, in the model's input units, or ``None`` for
            the minimum-norm attack.
        norm: ``"inf"`` or ``"2"``.
        steps: iterations per run (the paper's 100).
        n_restarts: runs per target (per attack, untargeted).
        targeted: run against each of the ``n_target_classes`` top-ranked other classes.
        n_target_classes: targets of the targeted runs (AutoAttack uses 9).
        alpha_max: largest weight of the original point in the mix, in [0, 1].
        eta: overshoot of the projection steps, at least 1.
        beta: backward step toward the original after a success, in (0, 1).
        seed: seed of the random restarts.
        progress: show a progress bar over the iterations.

    Raises:
        ValidationError: bad hyperparameters.

    Example:
        >>> x_adv = FAB(0.1, targeted=True).generate(model, x, y)
    """

    def __init__(
        self,
        eps: float | None = None,
        *,
        norm: str = "inf",
        steps: int = 100,
        n_restarts: int = 1,
        targeted: bool = False,
        n_target_classes: int = 9,
        alpha_max: float = 0.1,
        eta: float = 1.05,
        beta: float = 0.9,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        self.eps = None if eps is None else check_eps(eps)
        self.norm = check_norm(norm)
        self.steps = check_scalar(steps, "steps", kind=int, low=1)
        self.n_restarts = check_scalar(n_restarts, "n_restarts", kind=int, low=1)
        self.targeted = bool(targeted)
        self.n_target_classes = check_scalar(n_target_classes, "n_target_classes", kind=int, low=1)
        self.alpha_max = check_scalar(alpha_max, "alpha_max", low=0, high=1)
        self.eta = check_scalar(eta, "eta", low=1)
        self.beta = check_scalar(beta, "beta", low=0, high=1, include_low=False, include_high=False)
        self.seed = check_seed(seed)
        self.progress = bool(progress)

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray | None = None, *, target: Any = None) -> np.ndarray:
        """Craft adversarial examples; see :meth:`EvasionAttack.generate`.

        Raises:
            ValidationError: also when ``target`` is given to a ``targeted=True`` attack,
                which picks its own targets.
        """
        require(model, self.requires, type(self).__name__)
        if target is not None and self.targeted:
            raise ValidationError(
                f"`target` must be None when targeted=True (FAB picks its own targets), got {target!r}; "
                "use FAB(targeted=False) with target= for one given class"
            )
        return super().generate(model, x, y, target=target)

    def _attack(self, model: Any, x, labels, targets, generator) -> torch.Tensor:
        n = len(x)
        best = x.clone()
        best_norms = torch.full((n,), math.inf, device=x.device)
        if self.targeted:
            ranking = ranked_other_classes(model, x, labels)
            groups = rank_groups(model, n, min(self.n_target_classes, model.n_classes - 1))
        else:
            groups = [range(1)]
        for restart in range(self.n_restarts):
            for ranks in groups:
                remaining = torch.arange(n, device=x.device)
                if self.eps is not None:
                    remaining = (best_norms > self._radius_bound()).nonzero().squeeze(1)
                    if len(remaining) == 0:
                        return best
                if self.targeted:
                    owners, goals = target_rows(ranking, remaining, ranks)
                else:
                    owners, goals = remaining, None if targets is None else targets[remaining]
                self._run(
                    model,
                    x,
                    labels,
                    goals,
                    owners,
                    best,
                    best_norms,
                    restart > 0,
                    generator,
                    count_only_target=targets is not None,
                )
        if self.eps is not None:
            best = torch.where(per_sample(best_norms <= self._radius_bound(), x), best, x)
        return best

    def _radius_bound(self) -> float:
        # The tolerance robustness() uses when it checks that a point lies in the ball.
        return self.eps * (1 + 1e-5) + 1e-6

    def _run(self, model, x, labels, goal, index, best, best_norms, random_start, generator, *, count_only_target):
        """FAB runs, one per row: sample ``index[i]`` toward class ``goal[i]`` (untargeted: ``goal`` None).

        Improves ``best`` and ``best_norms`` in place, with each sample's closest point over
        its rows.
        """
        low, high = model.clip
        origin = x[index]
        y = labels[index]
        success_goal = goal if count_only_target else None
        current = origin.clone()
        if random_start:
            current = self._random_start(origin, best_norms[index], low, high, generator)
        # Positions (into index) still searched: with eps set, a sample leaves once broken.
        live = torch.arange(len(index), device=x.device)
        # The linearisation at each live row's current point, carried from the iteration
        # that checked the point, so that an iteration costs one forward and backward pass.
        w, gap, _ = self._linearise(model, current, y, goal, count_only_target)
        expected = torch.zeros(len(index), dtype=torch.bool, device=x.device)
        bar = tqdm(range(self.steps), desc="FAB", disable=not self.progress, leave=False)
        for step in bar:
            if len(live) == 0:
                break
            point, start = current[live], origin[live]
            row_labels, row_goal = y[live], None if goal is None else goal[live]
            c_point = -gap
            c_origin = c_point + (w * (point - start).flatten(1).double()).sum(dim=1)
            flat = (point.shape[0], -1)
            steps = box_hyperplane_step(
                torch.cat([point.reshape(flat), start.reshape(flat)]).double(),
                torch.cat([w, w]),
                torch.cat([c_point, c_origin]),
                low,
                high,
                self.norm,
            )
            step_point = steps[: len(live)].float().reshape(point.shape)
            step_origin = steps[len(live) :].float().reshape(point.shape)
            size_point = norms(step_point, self.norm).clamp_min(_FLOOR)
            size_origin = norms(step_origin, self.norm).clamp_min(_FLOOR)
            alpha = per_sample((size_point / (size_point + size_origin)).clamp(0, self.alpha_max), point)
            point = ((point + self.eta * step_point) * (1 - alpha) + (start + self.eta * step_origin) * alpha).clamp(
                low, high
            )
            last = step == self.steps - 1
            # A row that just stepped back after a success will most likely succeed again,
            # and then needs its boundary at the stepped-back point, not here: check it with
            # a forward pass only. The others are checked and linearised in one pass.
            checked_only = expected if not last else torch.ones_like(expected)
            logits = torch.empty((len(live), model.n_classes), device=x.device)
            if checked_only.any():
                with torch.no_grad():
                    logits[checked_only] = model.logits_tensor(point[checked_only]).float()
            linearised = (~checked_only).nonzero().squeeze(1)
            if len(linearised):
                w[linearised], gap[linearised], logits[linearised] = self._linearise_rows(
                    model, linearised, point, row_labels, row_goal, count_only_target
                )
            found = is_adversarial(logits, row_labels, success_goal)
            distance = norms(point - start, self.norm)
            owners = index[live]
            closer = found & (distance < best_norms[owners])
            if closer.any():
                # A sample's rows may find points in the same iteration: keep the closest.
                closest = torch.full_like(best_norms, math.inf).scatter_reduce_(
                    0, owners[closer], distance[closer], reduce="amin"
                )
                rows = first_row_per_owner(owners, closer & (distance == closest[owners]))
                best[owners[rows]] = point[rows]
                best_norms[owners[rows]] = distance[rows]
            point = torch.where(per_sample(found, point), start + self.beta * (point - start), point)
            # Linearise where the next iteration starts and no pass has yet: the rows that
            # stepped back, and those only checked that stayed where they are.
            pending = (found | checked_only).nonzero().squeeze(1)
            if not last and len(pending):
                w[pending], gap[pending], _ = self._linearise_rows(
                    model, pending, point, row_labels, row_goal, count_only_target
                )
            expected = found
            current[live] = point
            if self.eps is not None:
                keep = best_norms[owners] > self._radius_bound()
                live, w, gap, expected = live[keep], w[keep], gap[keep], expected[keep]
        bar.close()

    def _linearise_rows(self, model, rows, point, labels, goal, only_goal):
        """:meth:`_linearise` at ``point[rows]``."""
        return self._linearise(model, point[rows], labels[rows], None if goal is None else goal[rows], only_goal)

    def _linearise(self, model, point, labels, goal, only_goal):
        """The linearised boundary at ``point``: ``(w (m, d) float64, g (m,) float64, logits)``.

        The boundary is ``g(z) = 0`` with ``g = f_j - f_y`` for the chosen class ``j`` (the
        goal, or the closest class when untargeted), linearised as
        ``g(point) + w . (z - point)``, ``w`` the gradient of ``g``; a step ``d`` from a
        point ``p`` reaches it when ``w . d = -g(point) - w . (p - point)``. Toward a given
        target (``only_goal``) ``y`` is the target's strongest rival at ``point`` instead of
        the label, so that crossing the boundary makes the target the top class.
        """
        with torch.enable_grad():
            variable = point.detach().requires_grad_(True)
            output = model.logits_tensor(variable)
            if goal is not None:
                rows = torch.arange(len(point), device=point.device)
                if only_goal:
                    labels = output.detach().scatter(1, goal[:, None], float("-inf")).argmax(dim=1)
                difference = output[rows, goal] - output[rows, labels]
                (w,) = torch.autograd.grad(difference.sum(), variable)
                w, difference = w.flatten(1), difference.detach()
            else:
                w, difference = self._closest_boundary(output, variable, labels)
        return w.double(), difference.double(), output.detach()

    def _closest_boundary(self, logits, variable, labels):
        """The other class whose linearised boundary is closest: ``(gradient gap, logit gap)``."""
        n_classes = logits.shape[1]
        gradients = torch.stack(
            [
                torch.autograd.grad(logits[:, k].sum(), variable, retain_graph=k < n_classes - 1)[0].flatten(1)
                for k in range(n_classes)
            ],
            dim=1,
        )
        rows = torch.arange(len(labels), device=labels.device)
        gaps = (logits - logits[rows, labels][:, None]).detach()
        differences = gradients - gradients[rows, labels][:, None]
        dual = differences.abs().sum(dim=2) if self.norm == "inf" else differences.norm(dim=2)
        distance = gaps.abs() / (dual + 1e-12)
        distance[rows, labels] = math.inf
        closest = distance.argmin(dim=1)
        return differences[rows, closest], gaps[rows, closest]

    def _random_start(self, origin, found_norms, low, high, generator):
        if self.eps is not None:
            radius = torch.full_like(found_norms, self.eps)
        else:
            default = _DEFAULT_RADIUS[self.norm] * (high - low)
            radius = torch.where(torch.isfinite(found_norms), found_norms, torch.full_like(found_norms, default))
        if self.norm == "inf":
            direction = torch.rand(origin.shape, generator=generator).mul_(2).sub_(1).to(origin.device)
        else:
            direction = torch.randn(origin.shape, generator=generator).to(origin.device)
        direction = direction / per_sample(norms(direction, self.norm).clamp_min(1e-12), direction)
        return (origin + 0.5 * per_sample(radius, origin) * direction).clamp(low, high)
