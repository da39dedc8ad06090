"""Cells: seeds that depend only on the run seed and the cell, a cache that resumes, same results everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.assess import make_config
from bastion.assess.registry import CELL_FUNCTIONS, Cell, cell_function
from bastion.assess.runner import CellCache, cell_seed, run_plan
from bastion.assess.target import make_target
from bastion.backends import LocalBackend, SerialBackend
from bastion.exceptions import ValidationError

CALLS: list[str] = []


@cell_function("test.draw")
def draw_cell(context):
    """A cell whose result is random draws from its seed, and the model's accuracy on a few samples."""
    CALLS.append(context.cell.id)
    if context.params.get("fail") and not context.params.get("fixed"):
        raise RuntimeError("boom")
    rng = np.random.default_rng(context.seed)
    x, y = context.dataset.x_test[:20], context.dataset.y_test[:20]
    return {"draws": rng.random(3).tolist(), "accuracy": float((context.model.predict(x) == y).mean())}


@pytest.fixture()
def target(digits_mlp, digits):
    return make_target(digits_mlp, digits)


def _cells(**params):
    return [Cell(f"test/{i}", "test", "test.draw", f"cell {i}", dict(params)) for i in range(3)]


def test_a_cell_seed_depends_on_the_run_seed_and_its_key_only():
    assert cell_seed(0, "evasion/undefended") == cell_seed(0, "evasion/undefended")
    assert cell_seed(0, "evasion/undefended") != cell_seed(1, "evasion/undefended")
    assert cell_seed(0, "evasion/undefended") != cell_seed(0, "evasion/distillation")


def test_serial_and_local_backends_give_the_same_records(target):
    config = make_config(quick=True)
    serial = run_plan(_cells(), config=config, target=target, backend=SerialBackend(), cache=CellCache(None))
    local = run_plan(_cells(), config=config, target=target, backend=LocalBackend(2), cache=CellCache(None))
    strip = [[{k: v for k, v in r.items() if k != "timing"} for r in records] for records in (serial, local)]
    assert strip[0] == strip[1]
    assert len({tuple(r["result"]["draws"]) for r in serial}) == 3


def test_an_interrupted_run_resumes_with_the_unfinished_cells_only(target, tmp_path):
    config, cache = make_config(quick=True), CellCache(tmp_path)
    cells = _cells()
    cells[2] = Cell("test/2", "test", "test.draw", "cell 2", {"fail": True})
    CALLS.clear()
    first = run_plan(cells, config=config, target=target, backend=SerialBackend(), cache=cache)
    assert [r["status"] for r in first] == ["ok", "ok", "failed"] and "boom" in first[2]["reason"]
    CALLS.clear()
    cells[2] = Cell("test/2", "test", "test.draw", "cell 2", {"fail": True, "fixed": True})
    second = run_plan(cells, config=config, target=target, backend=SerialBackend(), cache=cache)
    assert CALLS == ["test/2"]
    assert [r["status"] for r in second] == ["ok", "ok", "ok"]
    assert second[0]["result"] == first[0]["result"] and second[0]["timing"]["cached"]


def test_a_cell_planned_as_skipped_never_runs_and_keeps_its_reason(target):
    CALLS.clear()
    cells = [Cell("test/skip", "test", "test.draw", "skipped", skip="needs gradients")]
    records = run_plan(
        cells, config=make_config(quick=True), target=target, backend=SerialBackend(), cache=CellCache(None)
    )
    assert CALLS == [] and records[0]["status"] == "skipped" and records[0]["reason"] == "needs gradients"


def test_a_cell_function_name_is_registered_once():
    assert "test.draw" in CELL_FUNCTIONS
    with pytest.raises(ValidationError, match="already registered"):
        cell_function("test.draw")(draw_cell)
