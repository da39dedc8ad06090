"""What a scan reports: :class:`Finding` (one problem, where it is, what it would do, what to
use instead) and :class:`ScanReport` (every finding of one path, and which checks ran).

Severities, from worst: ``critical`` (loading the file runs code an attacker chose: a shell
command, ``eval``, a socket), ``high`` (a way to reach arbitrary code or data the scan cannot
follow: gadgets such as ``getattr`` or ``functools.partial``, custom native operators, weights
that changed after they were saved, archive tricks that make readers disagree), ``medium``
(code of a module the scan does not know runs on load, or the file is malformed in a way a
loader may still accept), ``info`` (worth knowing, not a problem).
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.exceptions import ValidationError
from bastion.mixins import ResultMixin

SEVERITIES = ("info", "medium", "high", "critical")
"""The severities, from least to most severe."""

DEFAULT_INSTEAD = (
    "do not load it; ask for the weights as safetensors or the model as ONNX (bastion.models.io.load reads both "
    "without running code)"
)


def severity_rank(severity: str) -> int:
    """The position of ``severity`` in :data:`SEVERITIES` (``info`` is 0).

    Raises:
        ValidationError: not one of :data:`SEVERITIES`.
    """
    if severity not in SEVERITIES:
        raise ValidationError(f"`severity` must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Finding(ResultMixin):
    """One problem found in a file.

    Attributes:
        severity: ``critical``, ``high``, ``medium`` or ``info``.
        check: the check that raised it, e.g. ``pickle.dangerous-call``.
        member: where inside the file: an archive member, nested pickles joined by `` > ``
            (``""`` for the file itself).
        offset_bytes: the byte offset inside ``member`` (for pickles, of the opcode), or None.
        node: the named thing concerned (a pickle global, an ONNX node or tensor, a
            TorchScript code file, a skops type), or ``""``.
        what: what loading the file would do, in plain words.
        instead: what to use instead.
    """

    severity: str
    check: str
    what: str
    member: str = ""
    offset_bytes: int | None = None
    node: str = ""
    instead: str = DEFAULT_INSTEAD

    @property
    def location(self) -> str:
        """``member @ byte N [node]``, leaving out what is unknown."""
        parts = [self.member] if self.member else []
        if self.offset_bytes is not None:
            parts.append(f"@ byte {self.offset_bytes}")
        if self.node:
            parts.append(f"[{self.node}]")
        return " ".join(parts) or "(file)"


@dataclass(frozen=True)
class ScanReport(ResultMixin):
    """Everything one scan found in one path.

    Attributes:
        path: the scanned file or folder.
        format: what the file was recognised as (``pickle``, ``torch-zip``, ``torch-legacy``,
            ``torchscript``, ``onnx``, ``safetensors``, ``skops``, ``npy``, ``zip``,
            ``bastion-folder``, ``folder`` or ``unknown``).
        size_bytes: the file's size (a folder: the sum of its files).
        findings: the problems, worst first.
        checks: the checks that ran, so a clean report says what it vouches for.
        members: what was inspected inside the file (archive members, code files, tensors).
        imports: the pickle globals seen, ``module.name``, each once.
        scan_seconds: how long the scan took.
    """

    path: str
    format: str
    size_bytes: int
    findings: tuple[Finding, ...] = ()
    checks: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    scan_seconds: float = 0.0

    @property
    def max_severity(self) -> str | None:
        """The worst severity found, or None when there is no finding."""
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=severity_rank)

    @property
    def clean(self) -> bool:
        """No finding worse than ``info``."""
        return not self.at_or_above("medium")

    def at_or_above(self, severity: str) -> tuple[Finding, ...]:
        """The findings at least as severe as ``severity``."""
        floor = severity_rank(severity)
        return tuple(f for f in self.findings if severity_rank(f.severity) >= floor)

    def to_dict(self):
        """The fields as JSON-ready data, plus ``max_severity`` and ``clean``."""
        data = super().to_dict()
        for finding, record in zip(self.findings, data["findings"]):
            record["location"] = finding.location
        return {**data, "max_severity": self.max_severity, "clean": self.clean}


def sort_findings(findings) -> tuple[Finding, ...]:
    """Worst first; then by member and offset, so reports are stable."""
    return tuple(
        sorted(
            findings,
            key=lambda f: (-severity_rank(f.severity), f.member, -1 if f.offset_bytes is None else f.offset_bytes),
        )
    )
