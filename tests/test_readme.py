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


def test_ci_script_runs_the_readme_commands_verbatim():
    script = (ROOT / ".ci" / "run").read_text()
    assert f"setup='{_block('setup')[0]}'" in script
    assert f"tests='{_block('test')[0]}'" in script
    assert "ruff check" in script


def test_readme_quick_start_runs_and_reports_a_successful_attack(capsys):
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", quick_start, re.DOTALL).group(1)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "EvasionResult(" in printed
    robust = float(re.search(r"robust_accuracy=([0-9.]+)", printed).group(1))
    clean = float(re.search(r"clean_accuracy=([0-9.]+)", printed).group(1))
    assert clean > 0.9 and robust < clean
