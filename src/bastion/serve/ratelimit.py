"""Per-key rates: parsing ``20/s`` and the token-bucket arithmetic, counted in inputs.

A key with rate ``r`` inputs per period ``p`` holds a bucket of at most ``r`` tokens (its
burst), refilled at ``r / p`` tokens per second; a batch of ``n`` inputs needs ``n`` tokens.
The store keeps each bucket's level and refill time in the same transaction as the quota,
so several server processes sharing one database enforce one rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bastion.exceptions import ValidationError

PERIODS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class Rate:
    """``inputs`` per ``period_s`` seconds; the burst is ``inputs``."""

    inputs: float
    period_s: float

    @property
    def per_second(self) -> float:
        """Refill speed, tokens per second."""
        return self.inputs / self.period_s

    def __str__(self) -> str:
        unit = next(name for name, seconds in PERIODS.items() if seconds == self.period_s)
        return f"{self.inputs:g}/{unit}"


def parse_rate(text: str) -> Rate:
    """Parse ``"20/s"``, ``"1000/min"``, ``"5000/h"`` or ``"1e5/d"``.

    Raises:
        ValidationError: anything else, or a non-positive amount.
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*/\s*([a-z]+)\s*", str(text).lower())
    if match is None or match.group(2) not in PERIODS or not float(match.group(1)) > 0:
        raise ValidationError(f"`rate` must read like 20/s, 1000/min, 5000/h or 1e5/d, got {text!r}")
    return Rate(float(match.group(1)), PERIODS[match.group(2)])


def refill(tokens: float, refilled_at: float, now: float, rate: Rate) -> float:
    """The bucket's level at ``now``, given its level at ``refilled_at``."""
    return min(rate.inputs, tokens + max(0.0, now - refilled_at) * rate.per_second)


def wait_s(tokens: float, needed: int, rate: Rate) -> int:
    """Whole seconds until a bucket at ``tokens`` holds ``needed`` (for ``Retry-After``)."""
    return max(1, math.ceil((needed - tokens) / rate.per_second))
