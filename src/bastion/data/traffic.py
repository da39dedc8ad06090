"""The stream of web requests that content anomaly sensors are trained and tested on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.exceptions import ValidationError


@dataclass(frozen=True, eq=False)
class TrafficStream:
    """Web requests in arrival order, with the ground truth when it is known.

    Attributes:
        payloads: ``(n,)`` object array of ``bytes``: what a content sensor sees of each
            request (the request line, then the Referer, User-Agent and Cookie headers when
            present, CRLF-separated; see :func:`bastion.data.access_log.request_payload`).
        timestamps: ``(n,)`` float64 POSIX seconds (UTC) of each request.
        lines: ``(n,)`` object array of ``str``: each request as an access-log line (combined
            format, plus a quoted Cookie field when there is one), so that a cleaned stream
            can be written back as a log.
        is_attack: ``(n,)`` bool ground truth, or ``None`` for unlabelled traffic (a real log).
        kind: ``(n,)`` str array, ``"normal"`` or the attack family; ``None`` when unlabelled.
        name: where the stream came from.

    Raises:
        ValidationError: fields of different lengths.
    """

    payloads: np.ndarray
    timestamps: np.ndarray
    lines: np.ndarray
    is_attack: np.ndarray | None = None
    kind: np.ndarray | None = None
    name: str = "traffic"

    def __post_init__(self) -> None:
        n = len(self.payloads)
        fields = {"timestamps": self.timestamps, "lines": self.lines, "is_attack": self.is_attack, "kind": self.kind}
        for field, value in fields.items():
            if value is not None and len(value) != n:
                raise ValidationError(f"`{field}` must have one entry per payload ({n}), got {len(value)}")

    def __len__(self) -> int:
        return len(self.payloads)

    @property
    def labelled(self) -> bool:
        """Whether the ground truth (``is_attack``) is known."""
        return self.is_attack is not None

    def select(self, rows: Any) -> TrafficStream:
        """The requests at ``rows`` (a bool mask or integer indices), in stream order."""
        rows = np.asarray(rows)
        return TrafficStream(
            payloads=self.payloads[rows],
            timestamps=self.timestamps[rows],
            lines=self.lines[rows],
            is_attack=None if self.is_attack is None else self.is_attack[rows],
            kind=None if self.kind is None else self.kind[rows],
            name=self.name,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: size, time span, and attacks per family when known."""
        summary: dict[str, Any] = {
            "name": self.name,
            "n_requests": len(self),
            "start_s": float(self.timestamps.min()) if len(self) else None,
            "end_s": float(self.timestamps.max()) if len(self) else None,
        }
        if self.is_attack is not None:
            summary["n_attacks"] = int(self.is_attack.sum())
        if self.kind is not None:
            kinds, counts = np.unique(self.kind[self.kind != "normal"], return_counts=True)
            summary["attacks_by_kind"] = {str(k): int(c) for k, c in zip(kinds, counts)}
        return summary
