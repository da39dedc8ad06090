"""Square Attack: a score-based random search over square-shaped updates."""

from __future__ import annotations

import functools
import math

import torch
from tqdm.auto import tqdm

from bastion.attacks.evasion.base import EvasionAttack, check_eps, check_norm, is_adversarial, objective, score_function
from bastion.attacks.norms import clip_to_range, l2_norms, per_sample
from bastion.models.base import GRADIENTS, SCORES, Model
from bastion.validation import check_choice, check_scalar, check_seed

SQUARE_LOSSES = ("margin", "ce")
# Probabilities of a scores-only model are clamped here, in float64, before the log: a class
# given 1e-40 by a saturated softmax still has a finite log-probability below every other.
_SMALLEST_PROBABILITY = torch.finfo(torch.float64).tiny
# Rounds of redrawing an L-inf update that would not change the input.
_MAX_REDRAWS = 64
# Of those, drawn and checked at once (a sample needs more with probability 2^-8 or less).
_BATCHED_DRAWS = 8
# Most bytes the record of rejected L-inf proposals may take (one bool per sample and proposal).
_MAX_REMEMBERED_BYTES = 64 * 2**20
# Iterations at which the authors' p_selection halves p, out of a 10,000-iteration run.
_P_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def p_schedule(p_init: float, iteration: int, n_iterations: int) -> float:
    """Fraction of the features a Square Attack update changes at ``iteration``.

    The piecewise-constant schedule of Andriushchenko et al. (2020, Sec. 3 and their code's
    ``p_selection``): ``p_init`` is halved after iterations 10, 50, 200, 500, 1k, 2k, 4k, 6k
    and 8k of a 10,000-iteration run, rescaled to a run of ``n_iterations``.
    """
    position = int(iteration / n_iterations * 10000)
    return p_init / 2 ** sum(position > bound for bound in _P_HALVINGS)


def as_images(x: torch.Tensor) -> torch.Tensor:
    """View a batch as ``(n, c, h, w)``: flat ``(n, d)`` inputs become ``(n, 1, 1, d)``.

    ``(n, h, w)`` is one channel; for more than three sample dimensions the leading ones are
    channels and the last two are the plane the squares move on.
    """
    shape = x.shape[1:]
    if len(shape) == 1:
        return x.reshape(len(x), 1, 1, shape[0])
    if len(shape) == 2:
        return x.reshape(len(x), 1, *shape)
    return x.reshape(len(x), -1, shape[-2], shape[-1])


def pseudo_gaussian(height: int, width: int) -> torch.Tensor:
    """A ``(height, width)`` bump of unit L2 norm (Andriushchenko et al. 2020, Sec. 3.2).

    Concentric rectangular rings around the centre, ring ``k`` weighted by
    ``sum_{j >= k} 1 / (j + 1)^2``: a cheap, piecewise-constant stand-in for a Gaussian.
    """
    if height == 0 or width == 0:
        return torch.zeros(height, width)
    rows = (torch.arange(height) - height // 2).abs()[:, None]
    cols = (torch.arange(width) - width // 2).abs()[None, :]
    rings = max(height // 2, width // 2) + 1
    weights = 1.0 / torch.arange(1, rings + 1, dtype=torch.float32) ** 2
    tail_sums = weights.flip(0).cumsum(0).flip(0)
    bump = tail_sums[torch.maximum(rows, cols)]
    return bump / bump.norm()


@functools.cache
def windmill(height: int, width: int) -> torch.Tensor:
    """The L2 update pattern: two pseudo-Gaussian halves of opposite sign, unit L2 norm.

    Split along the height (rows) for 2-D windows and along the width for 1-D ones
    (``height == 1``), as in Andriushchenko et al. (2020, Sec. 3.2, Fig. 2). Cached: treat
    the result as read-only.
    """
    pattern = torch.zeros(height, width)
    if height == 1:
        half = width // 2
        pattern[:, :half] = pseudo_gaussian(1, half)
        pattern[:, half:] = -pseudo_gaussian(1, width - half)
    else:
        half = height // 2
        pattern[:half] = pseudo_gaussian(half, width)
        pattern[half:] = -pseudo_gaussian(height - half, width)
    return pattern / pattern.norm()


def _random_signs(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=generator).float().mul_(2).sub_(1)


def _window_origins(
    n: int, size: tuple[int, int], plane: tuple[int, int], generator: torch.Generator, reference: bool = False
):
    """Random top-left corners of ``n`` windows of ``size`` inside ``plane``.

    The paper (Algorithm 1) draws each corner uniformly from ``{0, ..., side - s}``, so that
    every position of the window is possible; the authors' code draws from
    ``{0, ..., side - s - 1}`` (``reference=True``), which never touches the last row and
    column and, with a window one pixel smaller than the plane, always puts it at the origin.
    """
    n_rows, n_cols = _origin_counts(size, plane, reference)
    rows = torch.randint(0, n_rows, (n,), generator=generator)
    cols = torch.randint(0, n_cols, (n,), generator=generator)
    return rows, cols


def _origin_counts(size: tuple[int, int], plane: tuple[int, int], reference: bool) -> tuple[int, int]:
    """How many rows and columns a window's corner can take (see :func:`_window_origins`)."""
    last = 0 if reference else 1
    return max(plane[0] - size[0] + last, 1), max(plane[1] - size[1] + last, 1)


@functools.cache
def _every_window(size: tuple[int, int], plane: tuple[int, int], reference: bool) -> torch.Tensor:
    """``(positions, 1, h, w)`` bool: the window of ``size`` at every corner :func:`_window_origins` can draw.

    Drawing one index into it is drawing a corner uniformly. Cached: treat as read-only.
    """
    n_rows, n_cols = _origin_counts(size, plane, reference)
    rows = torch.arange(n_rows).repeat_interleave(n_cols)
    cols = torch.arange(n_cols).repeat(n_rows)
    return _window_mask(_window_offsets(rows, cols, plane), size)


def _window_offsets(rows: torch.Tensor, cols: torch.Tensor, plane: tuple[int, int]):
    """Each pixel's row and column relative to each sample's window origin, ``(n, h)`` and ``(n, w)``."""
    return torch.arange(plane[0])[None, :] - rows[:, None], torch.arange(plane[1])[None, :] - cols[:, None]


def _window_mask(offsets: tuple[torch.Tensor, torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
    """``(n, 1, h, w)`` bool: each sample's window of ``size``."""
    inside_rows = (offsets[0] >= 0) & (offsets[0] < size[0])
    inside_cols = (offsets[1] >= 0) & (offsets[1] < size[1])
    return inside_rows[:, None, :, None] & inside_cols[:, None, None, :]


def _place(pattern: torch.Tensor, offsets: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """``(n, 1, h, w)``: ``pattern`` pasted into each sample's window ``mask``, zero elsewhere."""
    rows = offsets[0].clamp(0, pattern.shape[0] - 1)[:, :, None]
    cols = offsets[1].clamp(0, pattern.shape[1] - 1)[:, None, :]
    return pattern[rows, cols].unsqueeze(1) * mask


class SquareAttack(EvasionAttack):
    """Score-based black-box attack by random search over square-shaped updates.

    Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a query-efficient black-box
    adversarial attack via random search", ECCV 2020, Algorithm 1. Each iteration changes
    the current perturbation inside one random square window whose area is a fraction ``p``
    of the input, queries the model once, and keeps the change if the loss improves.

    - L-inf (Sec. 3.1): starts from vertical stripes of ``+-eps``; an update sets one
      window, per channel, to ``+-eps`` (redrawn until it changes the input).
    - L2 (Sec. 3.2): starts from a grid of pseudo-Gaussian bumps; an update moves the mass
      of a second random window into the first one as a "windmill" pattern (two centred
      bumps of opposite sign), keeping the total norm at ``eps``.

    ``p`` follows the authors' piecewise-constant schedule (:func:`p_schedule`) rescaled to
    ``max_queries``. The loss is the margin of Sec. 3 or the cross-entropy; targeted mode
    pushes the target class to the top. On a white-box model the margin is taken on the
    logits, ``max_{k != y} z_k - z_y``, which never goes flat; on a scores-only model it is
    taken on float64 log-probabilities, which equals the logit margin for a softmax model
    until a probability underflows to 0 in the model's own float32 (then that class's
    log-probability is clamped at float64's smallest normal number).

    Window positions: this class draws a window's corner uniformly from every position that
    keeps it inside the input, as Algorithm 1 of the paper does. The authors' code leaves out
    the last row and column of positions (``reference_windows=True`` reproduces it); on small
    inputs such as 8x8 digits that makes its large early windows nearly immobile, so the
    paper's variant breaks 5-10 points more samples there (docs/benchmarks.md reports both).

    The batch is attacked at once: every still-unbroken sample gets one update and one query
    per iteration; a sample stops querying as soon as it is adversarial. Each sample costs at
    most ``max_queries`` queries (one for the initialisation and one per iteration). When
    ``generate`` is called without ``y`` it spends one more query per sample to label it.

    Repeated proposals (L-inf): late in a run the windows shrink to a pixel or two, so a
    sample draws again and again an update it has already tried and rejected since its last
    accepted one; the candidate is then the same input, and a model that answers an input
    the same way every time would reject it again. With ``skip_repeats`` (the default) such
    a proposal is rejected without a query: the search, its random draws and its result are
    those of querying every proposal, at a fraction of the queries on robust models (the
    queries the model answered are what ``model.queries`` counts). A proposal is its window
    position and its sign per channel; the record is reset at every accepted update and
    whenever the window size changes. Set ``skip_repeats=False`` for a randomised model
    (one that answers the same input differently), where asking again is informative.

    Inputs of any shape work: ``(c, h, w)`` images use square windows; flat ``(d,)`` inputs
    (tables) are treated as ``1 x 1 x d`` and use 1-D windows (segments).

    Args:
        eps: radius of the ``norm`` ball, in the model's input units.
        max_queries: query budget per sample, at least 1.
        norm: ``"inf"`` or ``"2"``.
        p_init: initial fraction of the features changed by an update, in (0, 1]. The
            authors recommend 0.05 (L-inf) and 0.1 (L2) for standard ImageNet models and
            larger values for robust models; small inputs such as 8x8 digits need a large
            one (the default 0.8).
        loss: ``"margin"`` or ``"ce"``.
        reference_windows: draw window positions as the authors' code does (see above)
            instead of as the paper does, to compare with its published numbers.
        skip_repeats: reject an L-inf proposal already rejected since the sample's last
            accepted update without querying the model again (see above).
        seed: seed of the random search.
        progress: show a progress bar over iterations.

    Raises:
        ValidationError: a hyperparameter is out of range.
        CapabilityError: (in ``generate``) the model answers labels only.

    Example:
        >>> x_adv = SquareAttack(eps=0.1, max_queries=1000).generate(model, x, y)
    """

    requires = SCORES

    def __init__(
        self,
        eps: float,
        *,
        max_queries: int = 1000,
        norm: str = "inf",
        p_init: float = 0.8,
        loss: str = "margin",
        reference_windows: bool = False,
        skip_repeats: bool = True,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        self.eps = check_eps(eps)
        self.max_queries = check_scalar(max_queries, "max_queries", kind=int, low=1)
        self.norm = check_norm(norm)
        self.p_init = check_scalar(p_init, "p_init", low=0, high=1, include_low=False)
        self.loss = check_choice(loss, "loss", SQUARE_LOSSES)
        self.reference_windows = bool(reference_windows)
        self.skip_repeats = bool(skip_repeats)
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
        if self.eps == 0:
            return x.clone()
        scores = _logit_function(model)
        images = as_images(x)
        planes = images.shape[1:]
        clip = model.clip

        def evaluate(candidates: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            outputs = scores(candidates.reshape((len(index), *x.shape[1:])))
            chosen_targets = None if targets is None else targets[index]
            values = objective(outputs, labels[index], chosen_targets, self.loss)
            return values, is_adversarial(outputs, labels[index], chosen_targets)

        start = self._init_linf if self.norm == "inf" else self._init_l2
        step = self._step_linf if self.norm == "inf" else self._step_l2
        everyone = torch.arange(len(x), device=x.device)
        best = clip_to_range(images + start(images.shape, generator).to(x.device), clip)
        best_values, done = evaluate(best, everyone)
        # The samples still searched, compacted: their inputs, the edges of their L-inf boxes
        # (x +- eps clipped to the range, the only values a pixel takes; none for L2),
        # current best points and loss values. The loop works on these alone and writes a
        # sample back only when it is broken (and at the end), so an iteration costs no
        # gather or scatter over the batch.
        active = (~done).nonzero().squeeze(1)
        active_x, active_best, active_values = images[active], best[active], best_values[active]
        active_edges = (
            (clip_to_range(active_x + self.eps, clip), clip_to_range(active_x - self.eps, clip))
            if self.norm == "inf"
            else ()
        )
        n_iterations = self.max_queries
        rejected = _RejectedProposals() if self.skip_repeats and self.norm == "inf" else None
        bar = tqdm(range(n_iterations - 1), desc="Square Attack", disable=not self.progress, leave=False)
        for iteration in bar:
            if len(active) == 0:
                break
            p = p_schedule(self.p_init, iteration, n_iterations)
            candidates, proposals = step(active_x, active_best, active_edges, p, planes, clip, generator)
            if rejected is not None and rejected.follow(proposals, len(active)):
                asked = rejected.new(proposals.keys()).to(x.device)
                if len(asked) == 0:
                    continue
                candidates = candidates[asked]
            else:
                asked = torch.arange(len(active), device=x.device)
            values, adversarial = evaluate(candidates, active[asked])
            accepted = (values > active_values[asked]) | adversarial
            moved = asked[accepted]
            active_best[moved] = candidates[accepted]
            active_values[moved] = values[accepted]
            if rejected is not None:
                rejected.forget(moved)
            if adversarial.any():
                broken = asked[adversarial]
                best[active[broken]] = active_best[broken]
                kept = torch.ones(len(active), dtype=torch.bool, device=x.device)
                kept[broken] = False
                active, active_x = active[kept], active_x[kept]
                active_best, active_values = active_best[kept], active_values[kept]
                active_edges = tuple(edge[kept] for edge in active_edges)
                if rejected is not None:
                    rejected.keep(kept)
        bar.close()
        best[active] = active_best
        return best.reshape(x.shape)

    def _init_linf(self, shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
        n, channels, _, width = shape
        # Vertical stripes: one sign per column and channel (Sec. 3.1); for a flat input
        # (height 1) this is one sign per feature.
        return self.eps * _random_signs((n, channels, 1, width), generator)

    def _init_l2(self, shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
        n, channels, height, width = shape
        # A grid of windmill bumps with random signs; tiles of a fifth of the side (Sec. 3.2).
        tile = (1, max(width // 5, 1)) if height == 1 else (max(height // 5, 1),) * 2
        pattern = windmill(*tile)
        rows, cols = torch.arange(height), torch.arange(width)
        tiled = pattern[(rows % tile[0])[:, None], (cols % tile[1])[None, :]]
        n_tiles = (math.ceil(height / tile[0]), math.ceil(width / tile[1]))
        signs = _random_signs((n, channels, *n_tiles), generator)
        delta = tiled * signs[:, :, (rows // tile[0])[:, None], (cols // tile[1])[None, :]]
        return delta * per_sample(self.eps / l2_norms(delta), delta)

    def _step_linf(self, x, best, edges, p, planes, clip, generator) -> tuple[torch.Tensor, _Proposals]:
        channels, height, width = planes
        side = _window_side_linf(p, height, width)
        windows = _every_window(side, (height, width), self.reference_windows)
        positions = torch.randint(0, len(windows), (len(x),), generator=generator)
        window = windows[positions].to(x.device)
        up, down = edges
        # Per sample and channel: would setting the window to +eps (-eps) change the input?
        moves_up = ((up != best) & window).flatten(2).any(dim=2)
        moves_down = ((down != best) & window).flatten(2).any(dim=2)
        signs = _moving_signs(moves_up, moves_down, generator)
        chosen = torch.where(signs[:, :, None, None] > 0, up, down)
        return torch.where(window, chosen, best), _Proposals(side, len(windows), channels, positions, signs)

    def _step_l2(self, x, best, _edges, p, planes, clip, generator) -> tuple[torch.Tensor, None]:
        channels, height, width = planes
        side = _window_side_l2(p, height, width)
        plane = (height, width)
        rows, cols = _window_origins(len(x), side, plane, generator, self.reference_windows)
        rows_2, cols_2 = _window_origins(len(x), side, plane, generator, self.reference_windows)
        offsets = _window_offsets(rows, cols, plane)
        window = _window_mask(offsets, side)
        window_2 = _window_mask(_window_offsets(rows_2, cols_2, plane), side).to(x.device)
        pattern = windmill(*side)
        bump = _place(pattern, offsets, window)
        if side[0] == side[1]:
            # Windmills of both orientations, as the authors' random transpose.
            flipped = torch.rand(len(x), generator=generator) < 0.5
            bump = torch.where(per_sample(flipped, bump), _place(pattern.T, offsets, window), bump)
        window = window.to(x.device)
        bump = bump.to(x.device) * _random_signs((len(x), channels, 1, 1), generator).to(x.device)

        delta = best - x
        window_norms = (delta * window).square().sum(dim=(2, 3), keepdim=True).sqrt()
        union_norms = (delta * (window | window_2)).square().sum(dim=(2, 3), keepdim=True).sqrt()
        total_norms = per_sample(l2_norms(delta), delta)
        update = bump + delta * window / (window_norms + 1e-10)
        update_norms = (update * window).square().sum(dim=(2, 3), keepdim=True).sqrt()
        # The window takes over the mass of both windows plus what the budget has left.
        budget = ((self.eps**2 - total_norms**2).clamp_min(0) / channels + union_norms**2).sqrt()
        update = update * budget / (update_norms + 1e-10)
        delta = torch.where(window, update, delta * ~window_2)
        scale = self.eps / (l2_norms(delta) + 1e-12)
        return clip_to_range(x + delta * per_sample(scale, delta), clip), None


class _Proposals:
    """One iteration's L-inf proposals: the window side, each sample's window position and signs.

    Given a sample's current best point, its position (the window's index among those of
    its side) and its sign per channel fix the candidate.
    """

    def __init__(
        self, side: tuple[int, int], n_positions: int, channels: int, positions: torch.Tensor, signs: torch.Tensor
    ) -> None:
        self.side = side
        self.n_keys = n_positions * 2**channels
        self.positions = positions
        self.signs = signs

    def keys(self) -> torch.Tensor:
        """Each proposal's key, ``position * 2**channels`` plus its signs as bits, below ``n_keys``."""
        channels = self.signs.shape[1]
        bits = (self.signs > 0).long().cpu() << torch.arange(channels)
        return self.positions * 2**channels + bits.sum(dim=1)


class _RejectedProposals:
    """Which proposals each active sample has had rejected since its last accepted update.

    A ``(samples, keys)`` bool table for the current window side, dropped when the side
    changes; used only while it fits ``_MAX_REMEMBERED_BYTES``.
    """

    def __init__(self) -> None:
        self.side: tuple[int, int] | None = None
        self.table: torch.Tensor | None = None

    def follow(self, proposals: _Proposals, n_active: int) -> bool:
        """Start a table if the side changed; whether this iteration's proposals can be checked."""
        if proposals.side != self.side:
            self.side = proposals.side
            fits = n_active * proposals.n_keys <= _MAX_REMEMBERED_BYTES
            self.table = torch.zeros(n_active, proposals.n_keys, dtype=torch.bool) if fits else None
        return self.table is not None

    def new(self, keys: torch.Tensor) -> torch.Tensor:
        """Rows whose proposal is not on record (to be queried), recorded as rejected."""
        rows = torch.arange(len(keys))
        asked = (~self.table[rows, keys]).nonzero().squeeze(1)
        self.table[asked, keys[asked]] = True
        return asked

    def forget(self, moved: torch.Tensor) -> None:
        """Clear the record of the samples (row indices) whose best point just changed."""
        if self.table is not None and len(moved):
            self.table[moved.cpu()] = False

    def keep(self, kept: torch.Tensor) -> None:
        """Compact the table to the samples still searched."""
        if self.table is not None:
            self.table = self.table[kept.cpu()]


def _moving_signs(moves_up: torch.Tensor, moves_down: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``(n, channels)`` random signs of an L-inf window update that changes the input.

    Rejection sampling, as the authors redraw a window's signs until the update changes the
    input: uniform over the sign vectors for which some channel moves (``moves_up`` where its
    sign is +1, ``moves_down`` where it is -1). The first rounds are drawn and checked in one
    batch; one sign per channel always moves unless eps vanishes in float32 round-off, so
    each round accepts half of the samples or more, and the rare rest is redrawn round by
    round up to a cap that only guards that degenerate case.
    """
    n, channels = moves_up.shape
    device = moves_up.device
    drawn = _random_signs((_BATCHED_DRAWS, n, channels), generator).to(device)
    accepted = torch.where(drawn > 0, moves_up, moves_down).any(dim=2)
    first = accepted.to(torch.uint8).argmax(dim=0)
    signs = drawn.gather(0, first.view(1, n, 1).expand(1, n, channels)).squeeze(0)
    unchanged = ~accepted.any(dim=0)
    for _ in range(_MAX_REDRAWS - _BATCHED_DRAWS):
        redo = unchanged.nonzero().squeeze(1)
        if len(redo) == 0:
            break
        drawn = _random_signs((len(redo), channels), generator).to(device)
        signs[redo] = drawn
        unchanged[redo] = ~torch.where(drawn > 0, moves_up[redo], moves_down[redo]).any(dim=1)
    return signs


def _logit_function(model: Model):
    """Logits of a white-box model, float64 log-probabilities of a scores-only one.

    Both rank the classes as the model does, and the margin and cross-entropy losses take
    the same values on them for a softmax model; the logits keep their resolution where a
    float32 softmax has saturated.
    """
    if GRADIENTS in model.capabilities:

        @torch.no_grad()
        def logits(x: torch.Tensor) -> torch.Tensor:
            return model.logits_tensor(x)

        return logits
    scores = score_function(model)

    def log_probabilities(x: torch.Tensor) -> torch.Tensor:
        return scores(x).double().clamp_min(_SMALLEST_PROBABILITY).log()

    return log_probabilities


def _window_side_linf(p: float, height: int, width: int) -> tuple[int, int]:
    """Window of area ``p`` of the plane, at least one pixel, smaller than the plane."""
    if height == 1:
        return 1, min(max(round(p * width), 1), max(width - 1, 1))
    side = min(max(round(math.sqrt(p * height * width)), 1), max(min(height, width) - 1, 1))
    return side, side


def _window_side_l2(p: float, height: int, width: int) -> tuple[int, int]:
    """Window of area ``p`` of the plane, odd and at least 3 wide, at most the plane."""
    if height == 1:
        length = max(round(p * width), 3)
        return 1, min(length + 1 - length % 2, width)
    side = max(round(math.sqrt(p * height * width)), 3)
    side = min(side + 1 - side % 2, height, width)
    return side, side
