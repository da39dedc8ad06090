"""Write one benchmark's section of docs/benchmarks.md, leaving the other sections alone.

Each benchmark owns the text between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->``;
a section not yet in the file is appended. The table of contents of docs/benchmarks.md (between
``<!-- begin:contents -->`` and ``<!-- end:contents -->``) is rebuilt from the sections' headings
on every write, so its anchors follow the headings.
"""

from __future__ import annotations

import platform
import re
from datetime import date
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

This page measures bastion against the libraries users would otherwise reach for (torchattacks,
ART, picklescan, fickling, the reference AutoAttack) and against the figures of the papers it
implements. Everything runs on data that ships with bastion or is generated locally (the digits
and breast_cancer datasets, synthetic traffic); nothing is downloaded.

**Rerunning.** Each section is written by one script, named in the section: from a clone set up
as the README's installation says (the peers are in the `dev` extra; torchattacks is installed
with `--no-deps`), run `python -m benchmarks.<name>`. A script rewrites only its own section of this page (between
`<!-- begin:NAME -->` and `<!-- end:NAME -->`) and the figures it draws under `docs/`.

**Reading ratios.** "bastion / torchattacks 0.96x" means bastion takes 0.96 times torchattacks'
time: below 1 is faster. Peers run in the same process on the same model and batch, one after the
other, so a ratio holds even where the absolute seconds do not. Times are CPU seconds of one
process on one thread unless a section says otherwise. For attacks, a lower robust accuracy means
a stronger attack; for defenses, a higher one means a better defense.

**Machine.** Each section names where it was measured: processor, torch build, threads and date.
The figures on this page come from a two-core x86_64 machine shared with other jobs, so wall-clock
times are noisy; CPU times and ratios are the steadier figures.
"""
CONTENTS = re.compile(r"<!-- begin:contents -->.*?<!-- end:contents -->", re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def contents(text: str) -> str:
    """The table of contents: every section's ``##`` heading, linked, with the command that writes it."""
    rows = ["<!-- begin:contents -->", "| section | command |", "| --- | --- |"]
    for body in re.findall(r"<!-- begin:[\w-]+ -->\n(.*?)<!-- end:[\w-]+ -->", text, re.DOTALL):
        heading = re.search(r"^## (.+)$", body, re.MULTILINE)
        command = re.search(r"`(python -m benchmarks\.[^`]+)`", body)
        if heading:
            rows.append(
                f"| [{heading.group(1).replace('|', '/')}](#{slug(heading.group(1))}) | "
                f"{'`' + command.group(1) + '`' if command else ''} |"
            )
    return "\n".join([*rows, "<!-- end:contents -->"])


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
    if path == DOC:
        text = CONTENTS.sub(lambda _: contents(text), text) if CONTENTS.search(text) else text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
