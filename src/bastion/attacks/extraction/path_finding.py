"""Path-finding extraction of decision trees served with leaf identities."""

from __future__ import annotations

from typing import Any

import numpy as np

from bastion.attacks.extraction.base import ExtractionAttack, QueryBudget
from bastion.models.base import LABELS, SCORES, BaseModel, Model, require
from bastion.models.wrappers import LEAVES
from bastion.validation import check_scalar, check_seed

CHUNK = 256


class TreeBoxes(BaseModel):
    """A stolen tree: one axis-aligned box per leaf, with the leaf's answer.

    An input is answered by the box it lies in (``low < x <= high`` on every feature, as
    scikit-learn sends ``x <= threshold`` left); an input in no box (a leaf the budget did not
    reach, or within ``epsilon`` of a threshold) by the box whose constraints it meets most.

    Args:
        lows, highs: box bounds ``(n_leaves, d)``; infinite where a leaf is unbounded.
        scores: each leaf's probabilities ``(n_leaves, k)``.
        template: a Model whose ``input_shape`` and ``clip`` the boxes live in.
    """

    capabilities = frozenset({LABELS, SCORES})

    def __init__(self, lows: np.ndarray, highs: np.ndarray, scores: np.ndarray, template: Any) -> None:
        super().__init__()
        self.lows, self.highs, self.scores = lows, highs, scores.astype(np.float32)
        self.n_classes = scores.shape[1]
        self.input_shape = tuple(template.input_shape)
        self.clip = tuple(template.clip)

    @property
    def n_leaves(self) -> int:
        """How many leaves were extracted."""
        return len(self.lows)

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape(len(x), -1)
        boxes = []
        for start in range(0, len(flat), CHUNK):
            part = flat[start : start + CHUNK, None, :]
            met = ((part > self.lows[None]) & (part <= self.highs[None])).sum(axis=2)
            boxes.append(met.argmax(axis=1))
        return self.scores[np.concatenate(boxes)]

    def __repr__(self) -> str:
        return f"TreeBoxes(n_leaves={self.n_leaves}, n_classes={self.n_classes})"


class DecisionTreePathFinding(ExtractionAttack):
    """Extract a decision tree leaf by leaf from an API that names the leaf of each answer.

    Tramèr et al., "Stealing Machine Learning Models via Prediction APIs", USENIX Security
    2016, Sec. 4.2 (Alg. 1, the path-finding attack with an identity oracle, continuous
    features). From a point inside an unexplored leaf, a line search along each feature,
    upward and downward, finds the leaf's bounds to within ``epsilon`` by bisection: a
    leaf's region is a box, so the inputs of one line that reach it form an interval. The
    first input past each bound lies in a neighbouring leaf; unexplored neighbours are
    queued, so the search walks the whole partition. The 2d searches of a leaf are run as
    one batch per bisection step.

    The target must answer leaf identities (the ``"leaves"`` capability, e.g. a
    :class:`~bastion.models.LeafIdentity` around a scikit-learn tree); confidences alone are
    refused: distinct pure leaves share a confidence vector, and the merged regions are not
    boxes. When the budget runs out, the leaves found so far make the stolen model.

    Args:
        epsilon: precision of each bound, in input units.
        seed: seeds every random choice; same seed, same stolen model.

    Example:
        >>> target = LeafIdentity(SklearnModel(DecisionTreeClassifier(max_depth=5).fit(x, y)))
        >>> result = DecisionTreePathFinding().extract(target, budget=20_000)
        >>> result.stolen.n_leaves
    """

    requires = LEAVES

    def __init__(self, *, epsilon: float = 1e-3, seed: int = 0) -> None:
        self.epsilon = check_scalar(epsilon, "epsilon", low=0, include_low=False)
        self.seed = check_seed(seed)

    def minimum_budget(self, model: Model) -> int:
        """``1 + 2 d``: identify the first leaf and test both ends of each feature's line."""
        require(model, LABELS, "DecisionTreePathFinding.minimum_budget")
        return 1 + 2 * int(np.prod(model.input_shape))

    def _minimum_reason(self, model: Model) -> str:
        return "one query for the first leaf and 2 d to bound it"

    def _steal(self, target: QueryBudget, budget: int, seed: int) -> Any:
        low, high = target.clip
        d = int(np.prod(target.input_shape))
        start = np.full((1, d), 0.5 * (low + high))
        ids, scores = self._ask(target, start)
        queue = [(start[0], int(ids[0]), scores[0])]
        known = {int(ids[0])}
        lows, highs, answers = [], [], []
        while queue:
            point, leaf, answer = queue.pop(0)
            found = self._bound(target, point, leaf, d)
            if found is None:
                break
            box_low, box_high, neighbours = found
            lows.append(box_low)
            highs.append(box_high)
            answers.append(answer)
            for neighbour, neighbour_leaf, neighbour_answer in neighbours:
                if neighbour_leaf not in known:
                    known.add(neighbour_leaf)
                    queue.append((neighbour, neighbour_leaf, neighbour_answer))
        return TreeBoxes(np.array(lows), np.array(highs), np.array(answers), target)

    @staticmethod
    def _ask(target: QueryBudget, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = flat.reshape(len(flat), *target.input_shape).astype(np.float32)
        return target.predict_leaf(x)

    def _bound(self, target: QueryBudget, point: np.ndarray, leaf: int, d: int):
        """The box of ``leaf`` around ``point`` and the neighbours past its bounds (``None``: out of budget)."""
        low, high = target.clip
        # Search s < d moves feature s upward, s >= d feature s - d downward.
        feature = np.tile(np.arange(d), 2)
        inside = np.concatenate([point, point])
        outside = np.concatenate([np.full(d, high), np.full(d, low)])
        if target.remaining < 2 * d:
            return None
        ends = np.repeat(point[None], 2 * d, axis=0)
        ends[np.arange(2 * d), feature] = outside
        end_ids, end_scores = self._ask(target, ends)
        open_end = end_ids == leaf
        outside_ids, outside_scores = end_ids.copy(), end_scores.copy()
        active = ~open_end
        while True:
            searching = np.flatnonzero(active & (np.abs(outside - inside) > self.epsilon))
            probes = np.repeat(point[None], len(searching), axis=0)
            probes[np.arange(len(searching)), feature[searching]] = 0.5 * (inside[searching] + outside[searching])
            # Bisect on the float32 values the target sees; stop where float32 cannot split further.
            middle = probes.astype(np.float32)[np.arange(len(searching)), feature[searching]].astype(np.float64)
            stuck = (middle == inside[searching]) | (middle == outside[searching])
            active[searching[stuck]] = False
            searching, probes, middle = searching[~stuck], probes[~stuck], middle[~stuck]
            if len(searching) == 0:
                break
            if target.remaining < len(searching):
                return None
            probe_ids, probe_scores = self._ask(target, probes)
            same = probe_ids == leaf
            inside[searching[same]] = middle[same]
            moved = searching[~same]
            outside[moved] = middle[~same]
            outside_ids[moved] = probe_ids[~same]
            outside_scores[moved] = probe_scores[~same]
        bound = np.where(open_end, np.where(np.arange(2 * d) < d, np.inf, -np.inf), 0.5 * (inside + outside))
        neighbours = []
        for s in np.flatnonzero(~open_end):
            neighbour = point.copy()
            neighbour[feature[s]] = outside[s]
            neighbours.append((neighbour, int(outside_ids[s]), outside_scores[s]))
        return bound[d:], bound[:d], neighbours
