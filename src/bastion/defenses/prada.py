"""PRADA: detect model-extraction queries from the distribution of their distances.

Juuti, Szyller, Marchal & Asokan, "PRADA: Protecting Against DNN Model Stealing Attacks",
IEEE EuroS&P 2019, Sec. IV (Alg. 1). Natural inputs sent by a benign client lie at
distances from each other that are close to normally distributed; the synthetic queries of
extraction attacks (Jacobian augmentation, I-FGSM steps around seed images) sit at small,
regular distances from earlier queries, which skews that distribution.

For each client and each predicted class ``c``, PRADA keeps a growing set ``G_c`` of queries.
A new query ``x`` predicted as ``c`` has the minimum L2 distance ``d`` to ``G_c`` recorded;
``x`` joins ``G_c`` when ``d`` exceeds the class threshold ``T_c``, which becomes
``max(T_c, mean(D_Gc) - std(D_Gc))`` over the distances of the set's members. Every
``test_every`` queries, the recorded distances of the classes holding at least 10 of them are
pooled, those further than ``outlier_sigma`` standard deviations from the mean are dropped,
and once more than ``min_distances`` remain, a Shapiro-Wilk test gives ``W``; the client is
flagged while ``W < delta`` (0.9 in the authors' code, which these rules follow).

Bounded state (the paper's sets grow without limit): each class keeps at most
``max_set_size`` members of ``G_c`` (later far queries are measured but no longer added)
and the last ``max_distances`` recorded distances. Memory per client is at most
``n_classes * (max_set_size * (d + 1) * 4 + max_distances * 8)`` bytes for ``d`` features: for
digits (``d = 64``, 10 classes) with the defaults, about 2.6 MB + 0.04 MB.

Known limit: the test looks at distances only. An attacker who spaces its queries like
natural data (sampling a natural surrogate pool, as Knockoff Nets does, or interleaving
natural images) is not flagged; the paper says so (Sec. VI).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from bastion.mixins import ParamsReprMixin, ResultMixin
from bastion.validation import check_inputs, check_labels, check_scalar

# Classes with fewer recorded distances are left out of the pooled test (the authors' rule).
MIN_PER_CLASS = 10


@dataclass(frozen=True)
class PRADAStatus(ResultMixin):
    """Where one client stands after a batch of queries.

    Attributes:
        client: the client's name.
        queries: queries observed for this client so far.
        distances: minimum distances currently pooled (recorded, before outlier removal).
        shapiro_w: the latest Shapiro-Wilk statistic in [0, 1]; ``None`` before the first test.
        alert: whether the client is flagged (``shapiro_w < delta``).
        first_alert_query: the query count at which the client was first flagged, or ``None``.
    """

    client: str
    queries: int
    distances: int
    shapiro_w: float | None
    alert: bool
    first_alert_query: int | None


@dataclass
class _Client:
    growing: dict[int, np.ndarray] = field(default_factory=dict)
    norms: dict[int, np.ndarray] = field(default_factory=dict)
    members: dict[int, int] = field(default_factory=dict)
    member_distances: dict[int, list[float]] = field(default_factory=dict)
    thresholds: dict[int, float] = field(default_factory=dict)
    distances: dict[int, deque] = field(default_factory=dict)
    queries: int = 0
    shapiro_w: float | None = None
    alert: bool = False
    first_alert_query: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class PRADA(ParamsReprMixin):
    """The PRADA extraction detector (Juuti et al. 2019), one state per client.

    Args:
        delta: the Shapiro-Wilk threshold; a client is flagged while ``W < delta``.
        min_distances: the test runs once more than this many distances are pooled.
        test_every: queries between two tests.
        outlier_sigma: pooled distances further than this many standard deviations from
            their mean are dropped before the test.
        max_set_size: the most members of each class's growing set (bounds memory).
        max_distances: recorded distances kept per class, the most recent ones.

    Example:
        >>> prada = PRADA()
        >>> status = prada.observe(x_batch, model.predict(x_batch), client="alice")
        >>> status.alert
    """

    def __init__(
        self,
        delta: float = 0.9,
        *,
        min_distances: int = 100,
        test_every: int = 10,
        outlier_sigma: float = 3.0,
        max_set_size: int = 1000,
        max_distances: int = 500,
    ) -> None:
        self.delta = check_scalar(delta, "delta", low=0.0, high=1.0)
        self.min_distances = check_scalar(min_distances, "min_distances", kind=int, low=3)
        self.test_every = check_scalar(test_every, "test_every", kind=int, low=1)
        self.outlier_sigma = check_scalar(outlier_sigma, "outlier_sigma", low=0.0, include_low=False)
        self.max_set_size = check_scalar(max_set_size, "max_set_size", kind=int, low=1)
        self.max_distances = check_scalar(max_distances, "max_distances", kind=int, low=MIN_PER_CLASS)
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()

    @property
    def clients(self) -> list[str]:
        """The clients observed so far."""
        with self._lock:
            return sorted(self._clients)

    def forget(self, client: str) -> None:
        """Drop a client's state (for instance when its key is revoked)."""
        with self._lock:
            self._clients.pop(client, None)

    def status(self, client: str) -> PRADAStatus:
        """A client's current status (an unseen client has observed nothing)."""
        with self._lock:
            state = self._clients.get(client, _Client())
        with state.lock:
            return self._status(client, state)

    def observe(self, x: np.ndarray, labels: np.ndarray, *, client: str = "default") -> PRADAStatus:
        """Record a batch of one client's queries, in order, and return its status.

        Args:
            x: the queries ``(n, ...)``, any sample shape (flattened to ``d`` features).
            labels: the classes the model predicted for them, ``(n,)`` int.
            client: whose queries these are (an API key's name).

        Returns:
            A :class:`PRADAStatus` after the last query of the batch.

        Raises:
            ValidationError: ``x`` and ``labels`` disagree in length, or ``x`` is not finite.
        """
        x = check_inputs(x, "x")
        labels = check_labels(labels, "labels", n_samples=len(x))
        flat = x.reshape(len(x), -1)
        state = self._state(client)
        with state.lock:
            # Queries are sequential by nature: each may join the set the next is measured to.
            for row, label in zip(flat, labels.tolist()):
                self._one(state, row, label)
            return self._status(client, state)

    def _state(self, client: str) -> _Client:
        with self._lock:
            state = self._clients.get(client)
            if state is None:
                state = self._clients[client] = _Client()
            return state

    def _one(self, state: _Client, row: np.ndarray, label: int) -> None:
        if label not in state.growing:
            state.growing[label] = np.empty((self.max_set_size, row.size), dtype=np.float32)
            state.growing[label][0] = row
            state.norms[label] = np.empty(self.max_set_size, dtype=np.float32)
            state.norms[label][0] = row @ row
            state.members[label] = 1
            state.member_distances[label] = [0.0]
            state.thresholds[label] = 0.0
            state.distances[label] = deque(maxlen=self.max_distances)
        else:
            count = state.members[label]
            members = state.growing[label][:count]
            # ||m - x||^2 = ||m||^2 - 2 m.x + ||x||^2 finds the nearest member with one
            # matrix-vector product; its distance is then computed exactly (duplicates give 0).
            closest = int(np.argmin(state.norms[label][:count] - 2.0 * (members @ row)))
            nearest = float(np.sqrt(np.sum((members[closest] - row) ** 2)))
            state.distances[label].append(nearest)
            if nearest > state.thresholds[label] and state.members[label] < self.max_set_size:
                state.growing[label][state.members[label]] = row
                state.norms[label][state.members[label]] = row @ row
                state.members[label] += 1
                state.member_distances[label].append(nearest)
                known = np.asarray(state.member_distances[label])
                state.thresholds[label] = max(state.thresholds[label], float(known.mean() - known.std()))
        if state.queries % self.test_every == 0:
            self._test(state)
        state.queries += 1

    def _test(self, state: _Client) -> None:
        pooled = [d for d in state.distances.values() if len(d) >= MIN_PER_CLASS]
        if not pooled:
            return
        values = np.concatenate([np.fromiter(d, dtype=np.float64) for d in pooled])
        spread = values.std()
        values = values[np.abs(values - values.mean()) < self.outlier_sigma * spread] if spread > 0 else values
        if len(values) <= self.min_distances:
            return
        # Identical distances (a client repeating one step) are as unnatural as it gets.
        w = float(stats.shapiro(values).statistic) if np.ptp(values) > 0 else 0.0
        state.shapiro_w = w
        state.alert = w < self.delta
        if state.alert and state.first_alert_query is None:
            state.first_alert_query = state.queries + 1

    def _status(self, client: str, state: _Client) -> PRADAStatus:
        return PRADAStatus(
            client=client,
            queries=state.queries,
            distances=sum(len(d) for d in state.distances.values()),
            shapiro_w=state.shapiro_w,
            alert=state.alert,
            first_alert_query=state.first_alert_query,
        )
