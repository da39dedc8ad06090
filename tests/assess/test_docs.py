"""docs/assess.md cannot rot: its tables match the code, its Python examples run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bastion.assess.atlas import atlas
from bastion.assess.config import config_keys

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "assess.md").read_text()


def _between(text: str, marker: str) -> str:
    return text.split(f"<!-- {marker} -->", 1)[1].split(f"<!-- /{marker} -->", 1)[0]


def test_the_config_table_lists_every_key_with_its_type():
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", _between(DOC, "config-keys"), re.M)
    assert [key for key, _ in rows] == [row["key"] for row in config_keys()]
    assert [kind.strip() for _, kind in rows] == [row["type"] for row in config_keys()]


def test_the_atlas_table_shows_every_identifier_of_the_mapping():
    table = _between(DOC, "atlas")
    data = atlas()
    for entry in data["attacks"].values():
        assert f"`{entry['technique']}` | {data['techniques'][entry['technique']]['name']}" in table
    for entry in data["defenses"].values():
        assert f"`{entry['mitigation']}` | {data['mitigations'][entry['mitigation']]['name']}" in table


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.mark.parametrize("index", range(len(_python_blocks(DOC))))
def test_the_python_examples_of_the_doc_run(index, capsys):
    exec(compile(_python_blocks(DOC)[index], f"docs/assess.md[{index}]", "exec"), {})
    assert capsys.readouterr().out


def test_the_readme_python_assessment_example_runs(capsys, tmp_path, monkeypatch):
    section = (ROOT / "README.md").read_text().split("## Assess a model in one command", 1)[1].split("\n## ", 1)[0]
    (code,) = _python_blocks(section)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BASTION_CACHE_DIR", str(tmp_path / "cache"))
    exec(compile(code, "README.md", "exec"), {})
    assert "AML.T" in capsys.readouterr().out
    assert (tmp_path / "my-report" / "index.html").is_file()
