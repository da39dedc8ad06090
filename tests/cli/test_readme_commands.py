"""The README's `--clip` example runs as written: its `python -c` line and its `bastion` commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from .conftest import invoke

ROOT = Path(__file__).resolve().parents[2]


def _block(marker: str) -> list[list[str]]:
    blocks = re.findall(r"^ *```bash\n(.*?)^ *```", (ROOT / "README.md").read_text(), re.S | re.M)
    (block,) = [block for block in blocks if marker in block]
    return [shlex.split(line) for line in block.splitlines() if line.strip()]


def test_readme_clip_example_trains_and_attacks_data_in_0_16(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outputs = []
    for command in _block("--clip 0,16"):
        if command[:2] == ["python", "-c"]:
            exec(compile(command[2], "README.md", "exec"), {})
            continue
        assert command[0] == "bastion", command
        result = invoke(*command[1:])
        assert result.exit_code == 0, result.output
        outputs.append(" ".join(result.output.split()))
    assert all("data rescaled linearly from [0, 16] to [0, 1] (--clip)" in output for output in outputs)
    assert "PGD at eps 0.1 fools the model on" in outputs[-1]
    assert not any("warning:" in output for output in outputs)
