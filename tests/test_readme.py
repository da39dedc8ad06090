"""The README's set-up and test commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _block(name: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- ci:{name} -->\n```bash\n(.*?)```\n<!-- /ci:{name} -->", text, re.DOTALL)
    assert match, f"README.md lacks the ci:{name} block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_one_setup_command_pinning_torch_through_constraints():
    (command,) = _block("setup")
    assert "-c constraints.txt" in command
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text()


def test_readme_has_exactly_one_test_command_running_pytest():
    (command,) = _block("test")
    assert "pytest" in command


def test_ci_script_reads_both_commands_from_the_readme():
    script = (ROOT / ".ci" / "run").read_text()
    assert "readme_block setup" in script and "readme_block test" in script
    assert "ruff check" in script
