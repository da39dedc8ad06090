"""Every fenced python block of README.md and docs/*.md runs as written, in a fresh interpreter.

Blocks that another test already executes (and checks the output of) are listed in
``COVERED_ELSEWHERE`` with that test, so no block runs twice and none is left out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# (page, a line that only that block has; "" for every block of the page) -> the test file that runs it
COVERED_ELSEWHERE = {
    ("README.md", "result.write_report(\"my-report\")"): "tests/assess/test_docs.py",
    ("README.md", "print(evaluate(model, PGD(eps=0.1, steps=20)"): "tests/test_readme.py",
    ("README.md", "from bastion.sensors import NGramSensor"): "tests/defenses/test_micromodels.py",
    ("docs/assess.md", ""): "tests/assess/test_docs.py",
    ("docs/micromodels.md", ""): "tests/defenses/test_micromodels.py",
    ("docs/scan.md", ""): "tests/scan/test_docs.py",
    ("docs/security.md", ""): "tests/security/test_security_doc.py",
}

# (page, index) -> the data the block needs and the suite cannot ship; such a block is compiled
# and its imports are run, so a renamed class or module still fails here.
NEEDS_EXTERNAL_DATA = {
    ("docs/benchmarks.md", 'load("mnist/")'): "the MNIST IDX files in mnist/ (bastion never downloads data)",
}


def _blocks() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        for index, code in enumerate(re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)):
            found.append((name, index, code))
    return found


BLOCKS = _blocks()


def _listed(block: tuple[str, int, str], table: dict[tuple[str, str], str]) -> bool:
    page, _, code = block
    return any(page == key_page and marker in code for key_page, marker in table)


TO_RUN = [
    block for block in BLOCKS if not _listed(block, COVERED_ELSEWHERE) and not _listed(block, NEEDS_EXTERNAL_DATA)
]


def test_every_block_listed_as_covered_elsewhere_exists_and_names_a_real_test_file():
    for key, test in COVERED_ELSEWHERE.items():
        assert any(_listed(block, {key: test}) for block in BLOCKS), f"{key} is listed but no block matches"
        assert (ROOT / test).is_file(), test


@pytest.mark.parametrize("key", sorted(NEEDS_EXTERNAL_DATA))
def test_block_needing_external_data_compiles_and_its_imports_resolve(key):
    (code,) = [block[2] for block in BLOCKS if _listed(block, {key: ""})]
    compile(code, key[0], "exec")
    imports = "\n".join(line for line in code.splitlines() if line.startswith(("import ", "from ")))
    exec(compile(imports, f"{key[0]} imports", "exec"), {})


@pytest.mark.parametrize(("page", "index", "code"), TO_RUN, ids=[f"{p}[{i}]" for p, i, _ in TO_RUN])
def test_documented_python_block_runs_as_written(page, index, code, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    script = "import torch\ntorch.set_num_threads(1)\n" + code
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{page} block {index} failed:\n{done.stderr[-3000:]}"
