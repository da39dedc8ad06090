"""What every content anomaly sensor shares: payload validation, batching, fit/score/predict.

A sensor (Anagram, PAYL) learns what normal payloads look like from a training set and gives
every new payload an anomaly score; ``predict`` flags the scores above the sensor's threshold.
Payloads are byte strings (``str`` is encoded as UTF-8); the sensors work on all of them at
once as one concatenated ``uint8`` buffer, cut into chunks of whole payloads so that memory
stays bounded on millions of requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from bastion.exceptions import InputTypeError, NotFittedError, ValidationError
from bastion.mixins import ParamsReprMixin

# Bytes of payload handled per vectorised step (the working arrays are ~10x this).
CHUNK_BYTES = 1 << 22


def check_payloads(payloads: Any, name: str = "payloads", *, allow_empty: bool = False) -> list[bytes]:
    """Check a batch of payloads and return it as a list of ``bytes``.

    Args:
        payloads: an iterable of ``bytes`` / ``bytearray`` / ``str`` (``str`` is UTF-8
            encoded), e.g. a list or a numpy object array, or a
            :class:`~bastion.data.TrafficStream` (its ``payloads``).
        name: the argument's name, used in messages.
        allow_empty: whether a batch of zero payloads is accepted.

    Raises:
        InputTypeError: ``payloads`` is a single string or holds something that is not bytes/str.
        ValidationError: an empty batch where one is not allowed.
    """
    if hasattr(payloads, "payloads") and hasattr(payloads, "is_attack"):
        payloads = payloads.payloads
    if isinstance(payloads, (str, bytes, bytearray)) or not isinstance(payloads, Iterable):
        raise InputTypeError(
            f"`{name}` must be a sequence of payloads (bytes or str), got {type(payloads).__name__}; "
            "wrap a single payload in a list"
        )
    out: list[bytes] = []
    for index, payload in enumerate(payloads):
        if isinstance(payload, bytes):
            out.append(payload)
        elif isinstance(payload, (bytearray, memoryview)):
            out.append(bytes(payload))
        elif isinstance(payload, str):
            out.append(payload.encode("utf-8"))
        else:
            raise InputTypeError(f"`{name}[{index}]` must be bytes or str, got {type(payload).__name__}")
    if not out and not allow_empty:
        raise ValidationError(f"`{name}` must hold at least one payload, got none")
    return out


def chunks(payloads: list[bytes], chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(first_index, buffer, lengths)`` over runs of whole payloads of about ``chunk_bytes``.

    ``buffer`` is the ``uint8`` concatenation of the run's payloads, ``lengths`` their
    ``int64`` lengths; ``first_index`` is the index of the run's first payload.
    """
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
    ends = np.cumsum(lengths)
    first = 0
    while first < len(payloads):
        base = ends[first - 1] if first else 0
        last = int(np.searchsorted(ends, base + chunk_bytes, side="right"))
        last = max(last, first + 1)
        buffer = np.frombuffer(b"".join(payloads[first:last]), dtype=np.uint8)
        yield first, buffer, lengths[first:last]
        first = last


class Sensor(ParamsReprMixin):
    """Base class of the content anomaly sensors: ``fit``, ``score``, ``predict``.

    Subclasses implement ``_fit(payloads)`` (set the learned state, names ending in ``_``)
    and ``_score(payloads) -> (n,) float``; ``threshold_`` (set by ``_fit``) is the score above
    which a payload is anomalous.
    """

    threshold_: float

    def fit(self, payloads: Any) -> Sensor:
        """Learn the normal content from ``payloads``; returns ``self``.

        Raises:
            InputTypeError, ValidationError: see :func:`check_payloads`.
        """
        self._fit(check_payloads(payloads))
        return self

    def score(self, payloads: Any) -> np.ndarray:
        """Anomaly score of every payload, ``(n,)`` float64; higher is more anomalous.

        Raises:
            NotFittedError: before ``fit``.
        """
        self._check_fitted()
        payloads = check_payloads(payloads, allow_empty=True)
        if not payloads:
            return np.zeros(0, dtype=np.float64)
        return self._score(payloads)

    def predict(self, payloads: Any) -> np.ndarray:
        """``(n,)`` bool, True where the payload is anomalous (score above ``threshold_``).

        Raises:
            NotFittedError: before ``fit``.
        """
        return self.score(payloads) > self.threshold_

    @classmethod
    def predict_many(cls, sensors: list[Sensor], payloads: Any) -> np.ndarray:
        """``(len(sensors), n)`` bool: every sensor's ``predict`` on the same payloads.

        Micro-models call this to let every micro-model vote on every training payload;
        a sensor class may override it to share work between models (hashing once).
        """
        payloads = check_payloads(payloads, allow_empty=True)
        return (
            np.stack([sensor.predict(payloads) for sensor in sensors])
            if sensors
            else np.zeros((0, len(payloads)), bool)
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(payloads) first")

    def _fit(self, payloads: list[bytes]) -> None:
        raise NotImplementedError

    def _score(self, payloads: list[bytes]) -> np.ndarray:
        raise NotImplementedError
