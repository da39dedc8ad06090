"""Knockoff Nets: a substitute trained on the target's answers to a surrogate pool."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.cluster import KMeans
from tqdm.auto import tqdm

from bastion.attacks.extraction.base import ExtractionAttack, QueryBudget
from bastion.attacks.extraction.substitutes import Builder, as_model, build_substitute, check_architecture
from bastion.exceptions import ValidationError
from bastion.models.base import LABELS, SCORES
from bastion.models.training import fit
from bastion.validation import check_choice, check_inputs, check_labels, check_scalar, check_seed

SAMPLINGS = ("random", "adaptive")
OUTPUTS = ("probabilities", "labels")
REWARDS = ("certainty", "diversity", "loss", "all")


def pixel_shifts(images: np.ndarray, radius: int = 1) -> np.ndarray:
    """Every image shifted by up to ``radius`` pixels in each direction, zero-padded.

    A cheap way for an attacker to grow a small unlabeled image pool: ``(2 r + 1)^2`` copies
    of each image, the unshifted ones first.

    Args:
        images: ``(n, channels, height, width)``.
        radius: the largest shift, in pixels.

    Returns:
        ``((2 radius + 1)^2 n, channels, height, width)``, same dtype.
    """
    images = check_inputs(images, "images")
    if images.ndim != 4:
        raise ValidationError(f"`images` must have shape (n, channels, height, width), got {images.shape}")
    radius = check_scalar(radius, "radius", kind=int, low=0, high=min(images.shape[2:]) - 1)
    padded = np.pad(images, ((0, 0), (0, 0), (radius, radius), (radius, radius)))
    height, width = images.shape[2:]
    offsets = sorted(
        ((dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)),
        key=lambda offset: offset != (0, 0),
    )
    return np.concatenate(
        [padded[:, :, radius + dy : radius + dy + height, radius + dx : radius + dx + width] for dy, dx in offsets]
    )


class KnockoffNets(ExtractionAttack):
    """Train a substitute on the target's answers to images from a surrogate distribution.

    Orekondy, Schiele & Fritz, "Knockoff Nets: Stealing Functionality of Black-Box Models",
    CVPR 2019. The attacker holds an unlabeled ``pool`` (another dataset, noise, or its own
    unlabeled images); it queries the target on up to ``budget`` of them and trains a
    substitute on the answers (Sec. 4.2: cross-entropy to the returned probabilities, or to
    the labels when the API returns labels only, the paper's top-1 setting).

    Sampling (Sec. 4.1):

    - ``"random"``: ``budget`` pool images drawn without replacement (Sec. 4.1.1);
    - ``"adaptive"``: a gradient bandit (Sec. 4.1.2, Alg. 1; Sutton & Barto 2018, Sec. 2.8)
      chooses, round by round, which group of the pool to draw from. Groups are the pool's
      surrogate classes when ``groups`` is given, else ``n_clusters`` k-means clusters of the
      unlabeled pool. The reward of each answer ``y`` is (Sec. 4.1.2) ``"certainty"``
      (margin between the top two probabilities), ``"diversity"`` (``sum_k max(0, y_k -
      mean of the previous round's y_k)``), ``"loss"`` (cross-entropy of the online
      substitute to ``y``) or ``"all"`` (their sum, each standardised by its running mean and
      standard deviation).

    At most ``min(budget, len(pool))`` queries are made: each pool image is queried once.

    Args:
        pool: the attacker's unlabeled inputs, ``(n, *input_shape)`` inside the target's range.
        sampling: ``"random"`` or ``"adaptive"``.
        output: ``"probabilities"`` (needs a model with scores) or ``"labels"``.
        architecture: the substitute, a zoo name (``"mlp"``, ``"small_cnn"``) or a callable
            ``(input_shape, n_classes, seed) -> nn.Module``.
        epochs, lr, batch_size: training of the final substitute on the transfer set.
        groups: surrogate class of each pool image ``(n,)`` for ``"adaptive"``; ``None`` to
            cluster the pool.
        n_clusters: k-means clusters when ``groups`` is ``None``.
        reward: ``"certainty"``, ``"diversity"``, ``"loss"`` or ``"all"``; ``None`` picks
            ``"all"`` with probabilities and ``"loss"`` with labels only.
        round_size: queries per bandit round (``"adaptive"``).
        bandit_lr: step size of the gradient bandit's preference update.
        progress: show progress bars.
        seed: seeds every random choice; same seed, same stolen model.

    Raises:
        ValidationError: bad pool, choices or hyperparameters; ``"certainty"`` or
            ``"diversity"`` rewards with ``output="labels"`` (they need probabilities).

    Example:
        >>> attack = KnockoffNets(x_pool, sampling="adaptive", output="labels", reward="loss")
        >>> result = attack.extract(model, budget=2000, x_eval=x_test, y_eval=y_test)
    """

    def __init__(
        self,
        pool: np.ndarray,
        *,
        sampling: str = "random",
        output: str = "probabilities",
        architecture: str | Builder = "mlp",
        epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 64,
        groups: np.ndarray | None = None,
        n_clusters: int = 10,
        reward: str | None = None,
        round_size: int = 100,
        bandit_lr: float = 0.1,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.pool = check_inputs(pool, "pool")
        self.sampling = check_choice(sampling, "sampling", SAMPLINGS)
        self.output = check_choice(output, "output", OUTPUTS)
        self.architecture = check_architecture(architecture)
        self.epochs = check_scalar(epochs, "epochs", kind=int, low=1)
        self.lr = check_scalar(lr, "lr", low=0, include_low=False)
        self.batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
        self.groups = None if groups is None else check_labels(groups, "groups", n_samples=len(self.pool))
        # Only adaptive sampling without groups clusters the pool: there the pool bounds n_clusters.
        clusters_pool = self.sampling == "adaptive" and self.groups is None
        self.n_clusters = check_scalar(
            n_clusters, "n_clusters", kind=int, low=1, high=len(self.pool) if clusters_pool else None
        )
        if reward is None:
            reward = "all" if self.output == "probabilities" else "loss"
        self.reward = check_choice(reward, "reward", REWARDS)
        if self.output == "labels" and self.reward in ("certainty", "diversity", "all"):
            raise ValidationError(
                f"`reward` {self.reward!r} needs the target's probabilities, but `output` is 'labels'; "
                "use reward='loss' with labels only"
            )
        self.round_size = check_scalar(round_size, "round_size", kind=int, low=1)
        self.bandit_lr = check_scalar(bandit_lr, "bandit_lr", low=0, include_low=False)
        self.progress = bool(progress)
        self.requires = SCORES if self.output == "probabilities" else LABELS
        self.seed = check_seed(seed)

    def _steal(self, target: QueryBudget, budget: int, seed: int) -> Any:
        pool = target.check_x(self.pool, "pool")
        rng = np.random.default_rng(seed)
        n_queries = min(budget, len(pool))
        if self.sampling == "random":
            chosen = rng.choice(len(pool), size=n_queries, replace=False)
            x, y = pool[chosen], self._ask(target, pool[chosen])
        else:
            x, y = self._adaptive(target, pool, n_queries, rng, seed)
        module = build_substitute(self.architecture, target, seed)
        fit(
            module,
            x,
            y,
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=seed,
            progress=self.progress,
            description="knockoff substitute",
        )
        return as_model(module, target)

    def _ask(self, target: QueryBudget, x: np.ndarray) -> np.ndarray:
        """The target's answers as training targets: probabilities ``(n, k)`` or labels ``(n,)``."""
        if self.output == "labels":
            return target.predict(x)
        scores = np.clip(target.predict_proba(x).astype(np.float64), 0, None)
        # Answers from a rounding API may not sum to 1; soft labels must.
        return (scores / np.maximum(scores.sum(axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def _adaptive(
        self, target: QueryBudget, pool: np.ndarray, n_queries: int, rng: np.random.Generator, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.groups is None:
            flat = pool.reshape(len(pool), -1)
            groups = KMeans(n_clusters=self.n_clusters, n_init=3, random_state=seed).fit_predict(flat)
        else:
            # Dense ids 0..a-1 of the groups that occur: sparse ids (say 0 and 10^9) must not
            # size the bandit's arrays.
            groups = np.unique(self.groups, return_inverse=True)[1].reshape(-1)
        n_actions = int(groups.max()) + 1
        unused = [list(rng.permutation(np.flatnonzero(groups == a))) for a in range(n_actions)]
        preferences = np.zeros(n_actions)
        baseline, n_rewards = 0.0, 0
        stats = {name: [0.0, 0.0, 0] for name in ("certainty", "diversity", "loss")}
        previous_mean = np.full(target.n_classes, 1.0 / target.n_classes)
        online = build_substitute(self.architecture, target, seed) if self.reward in ("loss", "all") else None
        chosen: list[int] = []
        answers: list[np.ndarray] = []
        bar = tqdm(total=n_queries, desc="knockoff adaptive", disable=not self.progress, leave=False)
        while len(chosen) < n_queries:
            available = np.array([len(u) > 0 for u in unused])
            policy = np.where(available, np.exp(preferences - preferences[available].max()), 0.0)
            policy /= policy.sum()
            size = min(self.round_size, n_queries - len(chosen))
            counts = np.bincount(rng.choice(n_actions, size=size, p=policy), minlength=n_actions)
            picked, actions = [], []
            for action in np.flatnonzero(counts):
                take = unused[action][: counts[action]]
                del unused[action][: counts[action]]
                picked += take
                actions += [action] * len(take)
            picked_array, actions_array = np.array(picked), np.array(actions)
            y = self._ask(target, pool[picked_array])
            distribution = np.eye(target.n_classes, dtype=np.float32)[y] if y.ndim == 1 else y
            rewards = self._rewards(distribution, previous_mean, online, pool[picked_array], stats)
            # Gradient-bandit update (Sutton & Barto Eq. 2.12), summed over the round.
            advantage = rewards - baseline
            one_hot = np.eye(n_actions)[actions_array]
            preferences += self.bandit_lr * (advantage[:, None] * (one_hot - policy)).sum(axis=0)
            n_rewards += len(rewards)
            baseline += (rewards.sum() - len(rewards) * baseline) / n_rewards
            previous_mean = distribution.mean(axis=0)
            chosen += picked
            answers.append(y)
            if online is not None:
                fit(
                    online,
                    pool[np.array(chosen)],
                    np.concatenate(answers),
                    epochs=1,
                    lr=self.lr,
                    batch_size=self.batch_size,
                    seed=(seed + len(chosen)) % 2**32,
                    progress=False,
                )
            bar.update(len(picked))
        bar.close()
        return pool[np.array(chosen)], np.concatenate(answers)

    def _rewards(
        self,
        y: np.ndarray,
        previous_mean: np.ndarray,
        online: torch.nn.Module | None,
        x: np.ndarray,
        stats: dict[str, list[float]],
    ) -> np.ndarray:
        """Per-answer rewards of Orekondy et al. Sec. 4.1.2, ``(n,)``."""
        raw: dict[str, np.ndarray] = {}
        if self.reward in ("certainty", "all"):
            top = np.sort(y, axis=1)
            raw["certainty"] = top[:, -1] - top[:, -2]
        if self.reward in ("diversity", "all"):
            raw["diversity"] = np.clip(y - previous_mean, 0, None).sum(axis=1)
        if online is not None:
            with torch.no_grad():
                log_p = torch.log_softmax(online(torch.as_tensor(x)), dim=1).numpy()
            raw["loss"] = -(y * log_p).sum(axis=1)
        if self.reward != "all":
            return raw[self.reward].astype(np.float64)
        total = np.zeros(len(y))
        for name, values in raw.items():
            # Running mean and variance of each reward (Chan et al.'s batch update), so no
            # reward dominates the sum.
            mean, square_sum, count = stats[name]
            total_count = count + len(values)
            delta = values.mean() - mean
            mean += delta * len(values) / total_count
            square_sum += ((values - values.mean()) ** 2).sum() + delta**2 * count * len(values) / total_count
            count = total_count
            stats[name] = [mean, square_sum, count]
            std = np.sqrt(square_sum / count) if count > 1 else 1.0
            total += (values - mean) / max(std, 1e-8)
        return total
