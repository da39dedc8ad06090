"""HopSkipJumpAttack: a decision-based (label-only) minimum-perturbation attack."""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from bastion.attacks.evasion.base import EvasionAttack, check_norm, label_function
from bastion.attacks.norms import clip_to_range, norms
from bastion.exceptions import ValidationError
from bastion.models.base import LABELS, Model
from bastion.validation import check_scalar, check_seed

# Rows per model call: bounds memory when a batch's probes are evaluated together.
_QUERY_CHUNK = 8192
# Probe tensor elements built at once by the gradient estimate (64 MiB of float32).
_PROBE_ELEMENTS = 2**24
# The blended-noise initialisation stops at this precision of the blend factor (authors' code).
_BLEND_TOLERANCE = 1e-3
# Inputs of the batch tried as starting points when no noise draw is adversarial.
_BATCH_TRIALS = 10
# The geometric step-size search halves the step at most this many times.
_MAX_HALVINGS = 25


class HopSkipJump(EvasionAttack):
    """Label-only attack that walks along the decision boundary toward the input.

    Chen, Jordan & Wainwright, "HopSkipJumpAttack: A Query-Efficient Decision-Based Attack",
    IEEE S&P 2020, Algorithm 2. From an adversarial starting point it repeats:

    1. binary search between the input ``x*`` and the current point to the boundary, to
       the threshold ``theta = gamma / d^{3/2}`` (L2) or ``gamma / d^2`` (L-inf) (Sec. 4,
       Thm. 2);
    2. a Monte-Carlo estimate of the boundary's gradient direction from ``B_t = B_0 sqrt(t)``
       (at most ``max_evals``) label queries at random points at radius ``delta_t``, with the
       baseline-subtracted estimator of Eq. (15); ``delta_1`` is a tenth of the input range,
       then ``delta_t = sqrt(d) theta d_{t-1}`` (L2) or ``d theta d_{t-1}`` (L-inf), as in the
       authors' code;
    3. a geometric step-size search: a step of ``||x_t - x*|| / sqrt(t)`` along the estimate
       (its sign for L-inf), halved until the point is adversarial again.

    The starting point is uniform noise over the model's input range that is adversarial
    (for a targeted attack: that the model assigns to the target class), drawn at most
    ``init_trials`` times, then blended toward ``x*`` by binary search (the authors'
    initialisation). Noise alone often fails: on a binary table all noise may fall in one
    class, and few noise draws land in a given target class. Samples still without a start
    then try up to 10 other inputs of the same batch (of ``generate``'s batch size) whose
    label differs (untargeted) or is the target (targeted), one query each, as the paper's
    targeted attack starts from an image of the target class. A sample for which neither
    works is returned unchanged.

    The attack is unbounded (``eps`` is None): it returns the closest adversarial point it
    found, in the ``norm`` it minimises. Every sample spends at most ``max_queries`` label
    queries; when ``generate`` is called without ``y`` it spends one more to label it. The
    batch runs in lockstep: each phase evaluates the points of all samples in one model call.

    Args:
        max_queries: label queries per sample, at least 1.
        norm: ``"2"`` or ``"inf"``, the distance minimised.
        max_iterations: at most this many gradient steps (the query budget usually ends the
            attack first).
        n_initial_evals: ``B_0``, the probes of the first gradient estimate.
        max_evals: the cap on probes per gradient estimate, at least ``n_initial_evals``.
        gamma: scales the binary-search threshold ``theta``; positive.
        init_trials: noise draws tried per sample to find an adversarial start.
        seed: seed of the noise, the probes and nothing else.
        progress: show a progress bar over iterations.

    Raises:
        ValidationError: a hyperparameter is out of range.

    Example:
        >>> x_adv = HopSkipJump(max_queries=1000).generate(model, x, y)
    """

    requires = LABELS

    def __init__(
        self,
        *,
        max_queries: int = 1000,
        norm: str = "2",
        max_iterations: int = 50,
        n_initial_evals: int = 100,
        max_evals: int = 10000,
        gamma: float = 1.0,
        init_trials: int = 100,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        self.max_queries = check_scalar(max_queries, "max_queries", kind=int, low=1)
        self.norm = check_norm(norm)
        self.max_iterations = check_scalar(max_iterations, "max_iterations", kind=int, low=1)
        self.n_initial_evals = check_scalar(n_initial_evals, "n_initial_evals", kind=int, low=1)
        self.max_evals = check_scalar(max_evals, "max_evals", kind=int, low=1)
        if self.max_evals < self.n_initial_evals:
            raise ValidationError(
                f"`max_evals` must be at least `n_initial_evals` ({self.n_initial_evals}), got {self.max_evals}"
            )
        self.gamma = check_scalar(gamma, "gamma", low=0, include_low=False)
        self.init_trials = check_scalar(init_trials, "init_trials", kind=int, low=1)
        self.seed = check_seed(seed)
        self.progress = bool(progress)

    def _attack(
        self,
        model: Model,
        x: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None,
        generator: torch.Generator,
    ) -> torch.Tensor:
        n = len(x)
        origin = x.reshape(n, -1)
        d = origin.shape[1]
        low, high = model.clip
        theta = self.gamma / (d**1.5 if self.norm == "2" else d**2)
        spent = torch.zeros(n, dtype=torch.long, device=x.device)
        predict = label_function(model)

        def query(points: torch.Tensor, owners: torch.Tensor) -> torch.Tensor:
            """Whether each point is adversarial for its owner; charges the owners."""
            chunks = points.split(_QUERY_CHUNK)
            predictions = torch.cat([predict(chunk.reshape((len(chunk), *x.shape[1:]))) for chunk in chunks])
            spent.index_add_(0, owners, torch.ones_like(owners))
            if targets is None:
                return predictions != labels[owners]
            return predictions == targets[owners]

        found, start = self._initialise(origin, labels, targets, query, spent, (low, high), generator)
        best = origin.clone()
        best_distances = torch.full((n,), math.inf, device=x.device)
        index = found.nonzero().squeeze(1)
        current = origin.clone()
        current[index] = self._boundary_search(origin[index], start[index], index, theta, query, spent)
        distances = norms(current - origin, self.norm)
        improve = found & (distances < best_distances)
        best[improve], best_distances[improve] = current[improve], distances[improve]
        post_update = distances.clone()
        # Reserve the queries of one step and one binary search after each gradient estimate.
        reserve = 1 + max(0, math.ceil(math.log2(1 / theta)))
        bar = tqdm(range(1, self.max_iterations + 1), desc="HopSkipJump", disable=not self.progress, leave=False)
        for t in bar:
            # No sample can query more probes than its budget: drawing more would only cost time.
            wanted = min(int(self.n_initial_evals * math.sqrt(t)), self.max_evals, self.max_queries)
            counts = torch.clamp(self.max_queries - spent - reserve, max=wanted)
            # A sample at distance 0 is adversarial as it is: nothing left to minimise.
            index = (found & (counts >= 1) & (distances > 0)).nonzero().squeeze(1)
            if len(index) == 0:
                break
            if t == 1:
                radius = torch.full((len(index),), 0.1 * (high - low), device=x.device)
            else:
                radius = (math.sqrt(d) if self.norm == "2" else d) * theta * post_update[index].clamp_min(1e-12)
            gradient = self._gradient_direction(
                current[index], radius, wanted, counts[index], index, query, (low, high), generator
            )
            update = gradient if self.norm == "2" else gradient.sign()
            stepped, ok = self._step_search(
                current[index], update, distances[index] / math.sqrt(t), index, query, spent, (low, high)
            )
            moved = index[ok]
            post_update[moved] = norms(stepped[ok] - origin[moved], self.norm)
            current[moved] = self._boundary_search(origin[moved], stepped[ok], moved, theta, query, spent)
            distances[moved] = norms(current[moved] - origin[moved], self.norm)
            improve = distances[moved] < best_distances[moved]
            best[moved[improve]] = current[moved[improve]]
            best_distances[moved[improve]] = distances[moved[improve]]
        bar.close()
        return best.reshape(x.shape)

    def _initialise(self, origin, labels, targets, query, spent, clip, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """An adversarial start per sample, blended toward the input by binary search.

        Uniform noise first (the paper's initialisation); then, for samples still without
        one, other inputs of the batch labelled with another class (the target class).
        """
        n = len(origin)
        start = torch.zeros_like(origin)
        found = torch.zeros(n, dtype=torch.bool, device=origin.device)
        for _ in range(self.init_trials):
            index = (~found & (spent < self.max_queries)).nonzero().squeeze(1)
            if len(index) == 0:
                break
            draws = torch.rand((len(index), origin.shape[1]), generator=generator).to(origin.device)
            draws = clip[0] + (clip[1] - clip[0]) * draws
            start[index] = draws
            found[index] = query(draws, index)
        wanted = labels if targets is None else targets
        eligible = labels.cpu()[None, :] != wanted.cpu()[:, None]
        if targets is not None:
            eligible = ~eligible
        for _ in range(_BATCH_TRIALS):
            index = (~found & (spent < self.max_queries)).nonzero().squeeze(1)
            index = index[eligible[index.cpu()].any(dim=1).to(index.device)]
            if len(index) == 0:
                break
            picks = torch.multinomial(eligible[index.cpu()].float(), 1, generator=generator).squeeze(1)
            eligible[index.cpu(), picks] = False
            picks = picks.to(origin.device)
            start[index] = origin[picks]
            found[index] = query(origin[picks], index)
        # Blend factors: 0 is the input, 1 the noise; the high end stays adversarial.
        lows = torch.zeros(n, device=origin.device)
        highs = torch.ones(n, device=origin.device)
        while True:
            index = (found & (highs - lows > _BLEND_TOLERANCE) & (spent < self.max_queries)).nonzero().squeeze(1)
            if len(index) == 0:
                break
            middles = (lows[index] + highs[index]) / 2
            blended = (1 - middles[:, None]) * origin[index] + middles[:, None] * start[index]
            adversarial = query(blended, index)
            highs[index] = torch.where(adversarial, middles, highs[index])
            lows[index] = torch.where(adversarial, lows[index], middles)
        return found, (1 - highs[:, None]) * origin + highs[:, None] * start

    def _toward(self, origin: torch.Tensor, point: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
        """The point at ``amount`` between ``origin`` and ``point`` (Algorithm 2's projection).

        L2: the blend ``(1 - amount) origin + amount point``. L-inf: ``point`` clipped to the
        box of radius ``amount`` around ``origin``.
        """
        if self.norm == "2":
            return (1 - amount[:, None]) * origin + amount[:, None] * point
        return torch.maximum(torch.minimum(point, origin + amount[:, None]), origin - amount[:, None])

    def _boundary_search(self, origin, point, owners, theta, query, spent) -> torch.Tensor:
        """Binary search from adversarial ``point`` toward ``origin``; adversarial result."""
        if self.norm == "2":
            highs = torch.ones(len(point), device=point.device)
            thresholds = torch.full_like(highs, theta)
        else:
            highs = norms(point - origin, "inf")
            thresholds = torch.clamp(highs * theta, max=theta)
        lows = torch.zeros_like(highs)
        while True:
            pending = ((highs - lows > thresholds) & (spent[owners] < self.max_queries)).nonzero().squeeze(1)
            if len(pending) == 0:
                break
            middles = (lows[pending] + highs[pending]) / 2
            adversarial = query(self._toward(origin[pending], point[pending], middles), owners[pending])
            highs[pending] = torch.where(adversarial, middles, highs[pending])
            lows[pending] = torch.where(adversarial, lows[pending], middles)
        return self._toward(origin, point, highs)

    def _gradient_direction(self, points, radius, probes, counts, owners, query, clip, generator) -> torch.Tensor:
        """Unit estimate of the boundary's normal at ``points`` (Eq. 15) from ``counts`` probes each.

        ``probes`` directions are drawn per sample whatever the budget left, so that a larger
        budget replays the same random stream; only the first ``counts`` are queried. Probes
        are built at most ``_PROBE_ELEMENTS`` numbers at a time: several samples together
        when they fit, else one sample's probes in slices, summed as they come.
        """
        m, d = points.shape
        per_chunk = _PROBE_ELEMENTS // (probes * d)
        if per_chunk == 0:
            return torch.cat(
                [
                    self._streamed_direction(points[i], radius[i], probes, counts[i], owners[i], query, clip, generator)
                    for i in range(m)
                ]
            )
        directions = []
        for start in range(0, m, per_chunk):
            part = slice(start, start + per_chunk)
            noise = self._noise((len(points[part]), probes, d), generator).to(points.device)
            signs, noise, valid = self._probe(
                points[part], radius[part], noise, 0, counts[part], owners[part], query, clip
            )
            mean = signs.sum(dim=1) / counts[part]
            # Baseline subtraction, unless all probes agree (then the mean direction is used).
            unanimous = (mean.abs() == 1)[:, None]
            weights = torch.where(unanimous, signs, (signs - mean[:, None]) * valid)
            direction = (weights[:, :, None] * noise).sum(dim=1)
            directions.append(direction / (direction.norm(dim=1, keepdim=True) + 1e-12))
        return torch.cat(directions)

    def _noise(self, shape: tuple[int, ...], generator) -> torch.Tensor:
        """Unit random directions: Gaussian (L2) or uniform in the cube (L-inf), normalised."""
        if self.norm == "2":
            noise = torch.randn(shape, generator=generator)
        else:
            noise = torch.rand(shape, generator=generator) * 2 - 1
        return noise / noise.norm(dim=-1, keepdim=True)

    @staticmethod
    def _probe(points, radius, noise, first, counts, owners, query, clip):
        """Query the probes ``first ..`` of each point that its count allows; ``(signs, directions, valid)``."""
        size, probes = noise.shape[:2]
        centre, scale = points[:, None], radius[:, None, None]
        perturbed = clip_to_range(centre + scale * noise, clip)
        # The directions actually probed, after clipping to the input range.
        noise = (perturbed - centre) / scale
        valid = (first + torch.arange(probes, device=points.device))[None, :] < counts[:, None]
        signs = torch.zeros((size, probes), device=points.device)
        owner_of_probe = owners[:, None].expand(size, probes)[valid]
        signs[valid] = query(perturbed[valid], owner_of_probe).float() * 2 - 1
        return signs, noise, valid

    def _streamed_direction(self, point, radius, probes, count, owner, query, clip, generator) -> torch.Tensor:
        """Eq. 15 for one point whose probes do not fit in memory at once, slice by slice.

        The baseline-subtracted sum ``sum_j (s_j - mean) u_j`` is ``sum_j s_j u_j - mean sum_j u_j``:
        both sums and the signs' total accumulate as the slices are queried.
        """
        d = point.shape[0]
        step = max(1, _PROBE_ELEMENTS // d)
        signed, plain = torch.zeros(d, device=point.device), torch.zeros(d, device=point.device)
        total = torch.zeros((), device=point.device)
        for first in range(0, min(probes, int(count)), step):
            noise = self._noise((1, min(step, probes - first), d), generator).to(point.device)
            signs, noise, valid = self._probe(
                point[None], radius[None], noise, first, count[None], owner[None], query, clip
            )
            signed += (signs[:, :, None] * noise).sum(dim=(0, 1))
            plain += (valid[:, :, None] * noise).sum(dim=(0, 1))
            total += signs.sum()
        mean = total / count
        direction = signed if mean.abs() == 1 else signed - mean * plain
        return (direction / (direction.norm() + 1e-12))[None]

    def _step_search(self, points, update, steps, owners, query, spent, clip) -> tuple[torch.Tensor, torch.Tensor]:
        """Geometric step-size search: halve each step until the moved point is adversarial."""
        ok = torch.zeros(len(points), dtype=torch.bool, device=points.device)
        moved = points.clone()
        for _ in range(_MAX_HALVINGS):
            pending = (~ok & (spent[owners] < self.max_queries)).nonzero().squeeze(1)
            if len(pending) == 0:
                break
            candidates = clip_to_range(points[pending] + steps[pending, None] * update[pending], clip)
            adversarial = query(candidates, owners[pending])
            moved[pending] = torch.where(adversarial[:, None], candidates, moved[pending])
            ok[pending] = adversarial
            steps[pending] = torch.where(adversarial, steps[pending], steps[pending] / 2)
        return moved, ok
