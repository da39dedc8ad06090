"""A scan in progress: the findings, inspected members, checks and imports gathered so far,
shared by the format scanners of one path."""

from __future__ import annotations

from dataclasses import dataclass, field

from bastion.scan.findings import Finding

MAX_DEPTH = 4
"""Archives and pickles nested deeper than this are reported, not opened."""


@dataclass
class Collector:
    """Gathers what the format scanners find in one path."""

    findings: list[Finding] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)

    def add(self, finding: Finding) -> None:
        """Record a finding (an identical one is kept once)."""
        if finding not in self.findings:
            self.findings.append(finding)

    def extend(self, findings) -> None:
        """Record several findings."""
        for finding in findings:
            self.add(finding)

    def check(self, name: str) -> None:
        """Record that a check ran."""
        if name not in self.checks:
            self.checks.append(name)

    def member(self, text: str) -> None:
        """Record something inspected inside the file."""
        self.members.append(text)
