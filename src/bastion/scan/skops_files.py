"""skops files: the types skops would have to trust to load them.

A ``.skops`` file is a zip of a JSON schema and numpy arrays; skops rebuilds only the types
on its default trust list unless the caller names more. Each type outside that list is a
finding: a type bastion knows to be dangerous (``builtins.eval``, ``os.system``) at its
severity, a scikit-learn class at ``info``, any other one at ``medium`` (its code runs if
someone trusts it). The list comes
from skops' own audit (:func:`skops.io.get_untrusted_types`), which reads the schema without
building anything.
"""

from __future__ import annotations

from bastion.scan.collector import Collector
from bastion.scan.findings import Finding
from bastion.scan.policy import classify_dotted


def scan_skops(data: bytes, member: str, collector: Collector) -> None:
    """List the types a skops archive needs trusted, judged by bastion's policy."""
    import skops.io

    collector.check("skops trusted types")
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as error:  # skops raises many kinds on a malformed schema
        collector.add(
            Finding(
                "medium",
                "skops.bad-schema",
                f"skops cannot read the archive's schema ({error})",
                member=member,
                instead="re-save the estimator with skops.io.dump",
            )
        )
        return
    collector.member(f"{member or '(file)'}: skops archive, {len(untrusted)} types outside skops' trust list")
    for name in untrusted:
        verdict = classify_dotted(name)
        if verdict.kind == "dangerous":
            severity, what = verdict.severity, f"needs {name} trusted, which {verdict.what}"
        elif verdict.kind == "safe":
            severity, what = "info", f"needs {name} trusted ({verdict.what}): skops refuses it by default"
        else:
            severity, what = "medium", f"needs {name} trusted: skops refuses it by default, and its code runs on load"
        collector.add(
            Finding(
                severity,
                "skops.untrusted-type",
                what,
                member=member,
                node=name,
                instead="trust it only if you trust the file's author (bastion.models.io.load(..., trusted=[...]))",
            )
        )
