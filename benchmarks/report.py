"""Write one benchmark's section of docs/benchmarks.md, leaving the other sections alone.

Each benchmark owns the text between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->``;
a section not yet in the file is appended.
"""

from __future__ import annotations

import platform
import re
from datetime import date
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Each section is written by the script named in it; rerun the script to refresh it. Peers run "
    "in the same process on the same model and batch, so ratios are comparable even where absolute "
    "times are not.\n"
)


def machine() -> str:
    """One line describing where the figures were measured."""
    return (
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}, {date.today().isoformat()}"
    )


def write_section(name: str, markdown: str, *, path: Path = DOC) -> None:
    """Replace (or append) the section ``name`` of the benchmarks document."""
    text = path.read_text() if path.exists() else HEADER
    block = f"<!-- begin:{name} -->\n{markdown.strip()}\n<!-- end:{name} -->"
    pattern = re.compile(rf"<!-- begin:{re.escape(name)} -->.*?<!-- end:{re.escape(name)} -->", re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
