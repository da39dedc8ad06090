"""Every relative link and #anchor in README.md and docs/*.md points at something that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens; a repeated
    heading gets ``-1``, ``-2`` ... appended."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    anchors: set[str] = set()
    for heading in re.findall(r"^#+\s+(.*)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        unique, n = slug, 0
        while unique in anchors:
            n += 1
            unique = f"{slug}-{n}"
        anchors.add(unique)
    return anchors


def _links() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
        for target in LINK.findall(text):
            if not re.match(r"[a-z]+:", target):
                found.append((str(page.relative_to(ROOT)), target))
    return found


@pytest.mark.parametrize(("page", "target"), _links())
def test_relative_link_resolves(page, target):
    path, _, anchor = target.partition("#")
    file = (ROOT / page).parent / path if path else ROOT / page
    assert file.exists(), f"{page}: {target} points at a missing file"
    if anchor:
        assert anchor in _anchors(file), f"{page}: {target} names no heading of {file.name}"


def test_benchmarks_contents_links_every_section():
    page = ROOT / "docs" / "benchmarks.md"
    text = page.read_text()
    contents = re.search(r"<!-- begin:contents -->(.*?)<!-- end:contents -->", text, re.S)
    assert contents, "docs/benchmarks.md has no contents table"
    sections = re.findall(r"<!-- begin:(?!contents)[\w-]+ -->\n## (.+)", text)
    linked = re.findall(r"\]\(#([^)]+)\)", contents.group(1))
    assert len(linked) == len(sections), "the contents table and the sections differ; rerun a benchmark script"
    assert set(linked) <= _anchors(page)
