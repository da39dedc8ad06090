"""Thresholds pipelines gate on: ``metric=value`` pairs checked against an assessment's metrics.

``--fail-under robust_accuracy@0.1=0.5`` fails when the metric is below 0.5;
``--fail-over extraction_fidelity@1000=0.9`` fails when it is above 0.9. Metric names are the
keys of ``results.json``'s ``metrics`` (docs/assess.md lists them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bastion.exceptions import ValidationError


@dataclass(frozen=True)
class Gate:
    """One threshold: ``metric`` must not be under (``"under"``) or over (``"over"``) ``value``."""

    metric: str
    value: float
    direction: str

    def crossed(self, measured: float) -> bool:
        """Whether ``measured`` fails this gate."""
        return measured < self.value if self.direction == "under" else measured > self.value

    def __str__(self) -> str:
        return f"{self.metric} {'<' if self.direction == 'under' else '>'} {self.value:g}"


def parse_gate(text: str, direction: str) -> Gate:
    """``"robust_accuracy@0.1=0.5"`` -> ``Gate("robust_accuracy@0.1", 0.5, direction)``.

    Raises:
        ValidationError: no ``=``, an empty name or a value that is not a number.
    """
    option = f"--fail-{direction}"
    metric, sep, value = text.rpartition("=")
    if not sep or not metric:
        raise ValidationError(f"`{option}` must be METRIC=VALUE, e.g. robust_accuracy@0.1=0.5, got {text!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValidationError(f"`{option}` must end in a number after '=', got {text!r}") from None
    return Gate(metric.strip(), number, direction)


def check_gates(metrics: Mapping[str, float | None], gates: Sequence[Gate]) -> list[str]:
    """The gates ``metrics`` fail, each as ``"metric = measured (< threshold)"``.

    Raises:
        ValidationError: a gate names a metric this assessment did not measure (the message
            lists those it did).
    """
    failures = []
    for gate in gates:
        if gate.metric not in metrics or metrics[gate.metric] is None:
            known = ", ".join(sorted(k for k, v in metrics.items() if v is not None)) or "none"
            raise ValidationError(
                f"`--fail-{gate.direction}` names the metric {gate.metric!r}, which this assessment did not "
                f"measure; measured metrics: {known}"
            )
        measured = metrics[gate.metric]
        if gate.crossed(measured):
            failures.append(f"{gate.metric} = {measured:.4g} ({gate})")
    return failures


__all__ = ["Gate", "check_gates", "parse_gate"]
