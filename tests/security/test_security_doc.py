"""The fenced python examples of docs/security.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import bastion

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


@pytest.mark.parametrize("code", EXAMPLES)
def test_security_doc_example_runs(code):
    threads = torch.get_num_threads()
    try:
        exec(compile(code, str(DOC), "exec"), {})
    finally:
        bastion.set_deterministic(False)
        torch.set_num_threads(threads)
