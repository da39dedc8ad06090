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

# (page, index of the block in the page) -> the test that runs it
COVERED_ELSEWHERE = {
    ("README.md", 0): "tests/assess/test_docs.py::test_the_readme_python_assessment_example_runs",
    ("README.md", 1): "tests/test_readme.py::test_readme_quick_start_runs_and_reports_a_successful_attack",
    ("README.md", 5): "tests/defenses/test_micromodels.py::test_documented_examples_run",
    ("docs/assess.md", 0): "tests/assess/test_docs.py::test_the_python_examples_of_the_doc_run",
    ("docs/assess.md", 1): "tests/assess/test_docs.py::test_the_python_examples_of_the_doc_run",
    ("docs/micromodels.md", 0): "tests/defenses/test_micromodels.py::test_documented_examples_run",
    ("docs/scan.md", 0): "tests/scan/test_docs.py::test_scan_doc_examples_run_and_find_the_payload",
}

# (page, index) -> the data the block needs and the suite cannot ship; such a block is compiled
# and its imports are run, so a renamed class or module still fails here.
NEEDS_EXTERNAL_DATA = {
    ("docs/benchmarks.md", 0): "the MNIST IDX files in mnist/ (bastion never downloads data)",
}


def _blocks() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        for index, code in enumerate(re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)):
            found.append((name, index, code))
    return found


BLOCKS = _blocks()
TO_RUN = [block for block in BLOCKS if block[:2] not in COVERED_ELSEWHERE and block[:2] not in NEEDS_EXTERNAL_DATA]


def test_every_block_listed_as_covered_elsewhere_exists_and_names_a_real_test_file():
    present = {block[:2] for block in BLOCKS}
    for key, test in COVERED_ELSEWHERE.items():
        assert key in present, f"{key} is listed as covered but the page has no such block"
        assert (ROOT / test.split("::")[0]).is_file(), test


@pytest.mark.parametrize("key", sorted(NEEDS_EXTERNAL_DATA))
def test_block_needing_external_data_compiles_and_its_imports_resolve(key):
    (code,) = [code for page, index, code in BLOCKS if (page, index) == key]
    compile(code, f"{key[0]}[{key[1]}]", "exec")
    imports = "\n".join(line for line in code.splitlines() if line.startswith(("import ", "from ")))
    exec(compile(imports, f"{key[0]}[{key[1]}] imports", "exec"), {})


@pytest.mark.parametrize(("page", "index", "code"), TO_RUN, ids=[f"{p}[{i}]" for p, i, _ in TO_RUN])
def test_documented_python_block_runs_as_written(page, index, code, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    script = "import torch\ntorch.set_num_threads(1)\n" + code
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{page} block {index} failed:\n{done.stderr[-3000:]}"
