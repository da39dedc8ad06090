"""Anagram's content model: the byte n-grams of normal payloads, held in a Bloom filter.

Wang, Parekh & Stolfo, "Anagram: A Content Anomaly Detector Resistant to Mimicry Attack",
RAID 2006, Sec. 3: every n-gram (``n`` consecutive bytes) of the normal training payloads is
inserted into a Bloom filter; a new payload's anomaly score is the share of its n-grams that
the filter has never seen, ``N_new / T`` (Sec. 3.1), and the payload is anomalous when that
share exceeds a threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from bastion.exceptions import ValidationError
from bastion.sensors.base import Sensor, check_payloads, chunks
from bastion.validation import check_scalar, check_seed

_PRIME = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: spreads each byte over the word
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
# From this many filters on, scoring deduplicates n-grams first (one sort, then cheap look-ups).
_DEDUPLICATE_FROM = 4


def _mix(z: np.ndarray) -> np.ndarray:
    # splitmix64's finaliser: every input bit flips about half the output bits.
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def ngram_hashes(buffer: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The 64-bit hash of every n-gram that lies inside one payload, and which payload it is in.

    Args:
        buffer: ``uint8`` concatenation of the payloads.
        lengths: ``(k,)`` int64 payload lengths (summing to ``len(buffer)``).
        n: the n-gram size.

    Returns:
        ``(hashes, owner)``: ``(m,)`` uint64 hashes and ``(m,)`` int64 payload indices, where
        ``m = sum(max(length - n + 1, 0))`` (n-grams crossing two payloads are dropped).
    """
    windows = len(buffer) - n + 1
    if windows <= 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    values = buffer.astype(np.uint64)
    hashes = np.zeros(windows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):  # n steps over all windows at once, not one per n-gram
            hashes = hashes * _PRIME + values[j : j + windows]
    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)[:windows]
    starts = np.cumsum(lengths) - lengths
    inside = np.arange(windows, dtype=np.int64) - starts[owner] <= lengths[owner] - n
    return hashes[inside], owner[inside]


class NGramSensor(Sensor):
    """Anagram (Wang et al. 2006): byte n-grams of normal traffic in a Bloom filter.

    The Bloom filter is a bit array of ``bloom_bits`` bits (``2**24`` bits = 2 MiB, Anagram's
    size) with ``n_hashes`` hash functions: an n-gram is "seen" when all its ``n_hashes`` bits
    are set. A filter that holds ``N`` distinct n-grams answers "seen" for a new one with
    probability about ``(1 - exp(-n_hashes N / bloom_bits)) ** n_hashes`` (``fill_ ** n_hashes``);
    at 2**24 bits and 3 hashes that is under 1% up to about 1.5 million distinct n-grams.

    The score of a payload is ``N_new / T``: the share of its ``T = len - n + 1`` n-grams
    (every occurrence counts) that the filter has not seen; a payload shorter than ``n`` has
    no n-grams and scores 0.

    Args:
        n: the n-gram size in bytes (Anagram's best results use 5).
        bloom_bits: the filter's size in bits, a power of two in [2**10, 2**32].
        n_hashes: hash functions per n-gram, in [1, 16].
        threshold: a payload is anomalous when its score exceeds this, in [0, 1].
        seed: salts the hash function (two filters with the same seed are comparable).

    Attributes (after ``fit``):
        bits_: the filter, ``(bloom_bits // 8,)`` uint8 (little-endian bit order).
        fill_: share of the filter's bits that are set.
        threshold_: the decision threshold (``threshold``).

    Raises:
        ValidationError, InputTypeError: a hyperparameter outside the ranges above.
    """

    def __init__(
        self,
        n: int = 5,
        *,
        bloom_bits: int = 2**24,
        n_hashes: int = 3,
        threshold: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.n = check_scalar(n, "n", kind=int, low=1, high=64)
        self.bloom_bits = check_scalar(bloom_bits, "bloom_bits", kind=int, low=2**10, high=2**32)
        if self.bloom_bits & (self.bloom_bits - 1):
            raise ValidationError(f"`bloom_bits` must be a power of two in [2**10, 2**32], got {bloom_bits!r}")
        self.n_hashes = check_scalar(n_hashes, "n_hashes", kind=int, low=1, high=16)
        self.threshold = check_scalar(threshold, "threshold", low=0, high=1)
        self.seed = check_seed(seed)

    def _indices(self, hashes: np.ndarray) -> np.ndarray:
        """``(n_hashes, m)`` bit positions of each n-gram hash.

        Kirsch & Mitzenmacher's double hashing (2006): positions ``h1 + i * h2`` from two
        halves of one salted mix behave like independent hash functions for a Bloom filter.
        """
        salt = np.uint64(np.random.default_rng(self.seed).integers(0, 2**63, dtype=np.uint64))
        mixed = _mix(hashes ^ salt)
        h1, h2 = mixed >> np.uint64(32), (mixed & np.uint64(0xFFFFFFFF)) | np.uint64(1)
        steps = np.arange(self.n_hashes, dtype=np.uint64)[:, None]
        with np.errstate(over="ignore"):
            return (h1 + steps * h2) & np.uint64(self.bloom_bits - 1)

    def _fit(self, payloads: list[bytes]) -> None:
        bits = np.zeros(self.bloom_bits, dtype=bool)
        for _, buffer, lengths in chunks(payloads):
            hashes, _ = ngram_hashes(buffer, lengths, self.n)
            bits[self._indices(np.unique(hashes)).ravel()] = True
        self.fill_ = float(bits.mean())
        self.bits_ = np.packbits(bits, bitorder="little")
        self.threshold_ = self.threshold

    def _layout(self) -> tuple[int, int, int, int]:
        return (self.n, self.bloom_bits, self.n_hashes, self.seed)

    @staticmethod
    def _scores(sensors: list[NGramSensor], payloads: list[bytes]) -> np.ndarray:
        """``(len(sensors), n)`` scores of filters that share a layout, the n-grams hashed once.

        With many filters, each chunk's n-grams are deduplicated first (web requests repeat
        most of theirs: the same user agents, paths, headers): each filter then looks up only
        the distinct ones, and a sparse (payload x distinct n-gram) count matrix turns the
        answers of all filters into per-payload counts in one product.
        """
        lead = sensors[0]
        scores = np.zeros((len(sensors), len(payloads)), dtype=np.float64)
        for first, buffer, lengths in chunks(payloads):
            hashes, owner = ngram_hashes(buffer, lengths, lead.n)
            if len(sensors) >= _DEDUPLICATE_FROM:
                distinct, inverse = np.unique(hashes, return_inverse=True)
                counts = sparse.csr_matrix(
                    (np.ones(len(owner), dtype=np.float32), (owner, inverse.ravel())),
                    shape=(len(lengths), len(distinct)),
                )
                indices = lead._indices(distinct)
                unseen = np.stack([~s._seen(indices) for s in sensors], axis=1).astype(np.float32)
                new = np.asarray(counts @ unseen).T
            else:
                indices = lead._indices(hashes)
                new = np.stack([np.bincount(owner, weights=~s._seen(indices), minlength=len(lengths)) for s in sensors])
            total = np.maximum(lengths - lead.n + 1, 0)
            scores[:, first : first + len(lengths)] = np.divide(new, total, out=np.zeros(new.shape), where=total > 0)
        return scores

    def _seen(self, indices: np.ndarray) -> np.ndarray:
        # An n-gram is in the filter when all its bits are set.
        return ((self.bits_[indices >> np.uint64(3)] >> (indices & np.uint64(7)).astype(np.uint8)) & 1).all(axis=0)

    @classmethod
    def predict_many(cls, sensors: list, payloads: Any) -> np.ndarray:
        """Every sensor's ``predict``; the n-grams are hashed once when the filters share a layout.

        Filters with the same ``n``, ``bloom_bits``, ``n_hashes`` and ``seed`` map an n-gram
        to the same bits, so only the bit look-ups are done per sensor.
        """
        payloads = check_payloads(payloads, allow_empty=True)
        if not sensors or any(not isinstance(s, NGramSensor) or s._layout() != sensors[0]._layout() for s in sensors):
            return super().predict_many(sensors, payloads)
        for sensor in sensors:
            sensor._check_fitted()
        thresholds = np.array([s.threshold_ for s in sensors])[:, None]
        return cls._scores(sensors, payloads) > thresholds

    def _score(self, payloads: list[bytes]) -> np.ndarray:
        return self._scores([self], payloads)[0]
