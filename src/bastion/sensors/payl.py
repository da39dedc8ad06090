"""PAYL: a byte-frequency model of normal payloads per payload length.

Wang & Stolfo, "Anomalous Payload-based Network Intrusion Detection", RAID 2004, Sec. 2:
the model of the payloads of one length is the mean ``m`` and standard deviation ``s`` of
their 256 relative byte frequencies; a new payload of that length is scored by the simplified
Mahalanobis distance ``d(x) = sum_i |x_i - m_i| / (s_i + alpha)`` (Sec. 2.2), and is anomalous
when ``d`` exceeds a threshold set on the training data. PAYL merges the models of
neighbouring lengths (Sec. 2.3); here the length axis is cut at quantiles of the training
lengths so that every bin holds the same number of training payloads.
"""

from __future__ import annotations

import numpy as np

from bastion.sensors.base import Sensor, chunks
from bastion.validation import check_scalar


def byte_frequencies(buffer: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``(k, 256)`` float64 relative byte frequencies of the ``k`` payloads in ``buffer``."""
    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    counts = np.bincount(owner * 256 + buffer, minlength=len(lengths) * 256).reshape(len(lengths), 256)
    return counts / np.maximum(lengths, 1)[:, None]


class PAYLSensor(Sensor):
    """PAYL (Wang & Stolfo 2004): byte-frequency Mahalanobis distance per payload length.

    Args:
        n_length_bins: how many length models; the bin edges are quantiles of the training
            lengths (fewer bins when the training set has fewer distinct lengths).
        alpha: the smoothing factor of the distance (Wang & Stolfo use 0.001), in (0, inf).
        quantile: the threshold is this quantile of the training payloads' distances,
            scaled by ``margin``; in (0, 1].
        margin: factor on that quantile, in (0, inf).

    Attributes (after ``fit``):
        edges_: ``(bins - 1,)`` inner length edges in bytes.
        mean_, std_: ``(bins, 256)`` per-bin byte-frequency mean and standard deviation.
        threshold_: the distance above which a payload is anomalous.

    Raises:
        ValidationError, InputTypeError: a hyperparameter outside the ranges above.
    """

    def __init__(
        self, *, n_length_bins: int = 8, alpha: float = 1e-3, quantile: float = 0.99, margin: float = 1.0
    ) -> None:
        self.n_length_bins = check_scalar(n_length_bins, "n_length_bins", kind=int, low=1)
        self.alpha = check_scalar(alpha, "alpha", low=0, include_low=False)
        self.quantile = check_scalar(quantile, "quantile", low=0, high=1, include_low=False)
        self.margin = check_scalar(margin, "margin", low=0, include_low=False)

    def _bins(self, lengths: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.edges_, lengths, side="right")

    def _fit(self, payloads: list[bytes]) -> None:
        lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
        quantiles = np.linspace(0, 1, self.n_length_bins + 1)[1:-1]
        self.edges_ = np.unique(np.quantile(lengths, quantiles, method="lower")) if quantiles.size else np.zeros(0)
        bins = len(self.edges_) + 1
        total = np.zeros((bins, 256))
        squares = np.zeros((bins, 256))
        count = np.zeros(bins)
        for first, buffer, chunk_lengths in chunks(payloads):
            freq = byte_frequencies(buffer, chunk_lengths)
            which = self._bins(lengths[first : first + len(chunk_lengths)])
            np.add.at(total, which, freq)
            np.add.at(squares, which, freq**2)
            count += np.bincount(which, minlength=bins)
        count = np.maximum(count, 1)[:, None]
        self.mean_ = total / count
        self.std_ = np.sqrt(np.maximum(squares / count - self.mean_**2, 0.0))
        self.threshold_ = np.inf  # scoring the training set below needs a fitted model
        distances = self._score(payloads)
        self.threshold_ = float(np.quantile(distances, self.quantile) * self.margin)

    def _score(self, payloads: list[bytes]) -> np.ndarray:
        scores = np.zeros(len(payloads), dtype=np.float64)
        for first, buffer, lengths in chunks(payloads):
            which = self._bins(lengths)
            freq = byte_frequencies(buffer, lengths)
            distance = np.abs(freq - self.mean_[which]) / (self.std_[which] + self.alpha)
            scores[first : first + len(lengths)] = distance.sum(axis=1)
        return scores
