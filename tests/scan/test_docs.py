"""The python examples of docs/scan.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "scan.md"


def test_scan_doc_examples_run_and_find_the_payload(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert blocks
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})
    printed = capsys.readouterr().out
    assert printed.startswith("critical\n") and "refused:" in printed
