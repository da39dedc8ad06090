"""``bastion.assess``: run the threat matrix on a model; :class:`Assessment` holds what it found."""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bastion.assess.config import AssessConfig, make_config
from bastion.assess.registry import sections
from bastion.assess.runner import FAILED, OK, SKIPPED, CellCache, default_cache_dir, run_plan
from bastion.assess.schema import SCHEMA_ID, SCHEMA_VERSION
from bastion.assess.target import Profile, dataset_sha256, make_target, profile
from bastion.backends import SerialBackend, get_backend
from bastion.exceptions import InputTypeError

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
TIMINGS_FILE = "timings.json"
REPORT_FILE = "index.html"


class AssessWarning(UserWarning):
    """An assessment ran differently from what was asked (e.g. serially, for a model that cannot travel)."""


def _clean_floats(value: Any, digits: int = 6) -> Any:
    # Six significant digits: identical across backends, and NaN/inf (not JSON) become null.
    if isinstance(value, float):
        return None if not math.isfinite(value) else float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: _clean_floats(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_floats(v, digits) for v in value]
    return value


class Assessment:
    """What one run of the threat matrix found.

    Attributes:
        config: the validated configuration it ran.
        profile: what the model offered (capabilities, retrainable or not).
        model: ``{"sha256", "source", ...}``: the model's fingerprint and where it came from.
        data: ``{"name", "sha256", "n_train", "n_test", ...}``.
        records: one record per cell (status, reason, result, timing), in plan order.
    """

    def __init__(
        self,
        *,
        config: AssessConfig,
        profile: Profile,
        model: dict[str, Any],
        data: dict[str, Any],
        records: list[dict[str, Any]],
        backend: str,
    ) -> None:
        self.config = config
        self.profile = profile
        self.model = model
        self.data = data
        self.records = records
        self.backend = backend

    def _by_section(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        return [(s, [r for r in self.records if r["section"] == s.name]) for s in sections()]

    def summary(self) -> list[dict[str, Any]]:
        """Rows of the summary table: per finding, the threat, attack, ATLAS technique, the metric
        undefended, the best defense with its ATLAS mitigation, the metric defended, its cost,
        and a plain-words verdict."""
        rows = []
        for section, records in self._by_section():
            rows += section.summarize(records, self.config)
        return _clean_floats(rows)

    def metrics(self) -> dict[str, float]:
        """The named numbers of the run (``robust_accuracy@0.1``, ``extraction_fidelity@1000``, ...)."""
        out: dict[str, float] = {}
        for section, records in self._by_section():
            out.update(section.metrics(records, self.config))
        return _clean_floats(out)

    def figures(self) -> list[tuple[Any, list[Any]]]:
        """``(section, figures)`` per section, for the report."""
        return [(section, section.figures(records, self.config)) for section, records in self._by_section()]

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Records of the cells that raised an error."""
        return [r for r in self.records if r["status"] == FAILED]

    @property
    def skipped(self) -> list[dict[str, Any]]:
        """Records of the cells that could not run, with the reason."""
        return [r for r in self.records if r["status"] == SKIPPED]

    def timings(self) -> dict[str, Any]:
        """Wall-clock seconds per cell (differ between runs, so kept out of :meth:`to_dict`)."""
        cells = {r["id"]: r.get("timing", {}) for r in self.records}
        return {"backend": self.backend, "cells": cells, "seconds": sum(t.get("seconds", 0.0) for t in cells.values())}

    def to_dict(self) -> dict[str, Any]:
        """``results.json``: a pure function of the model, data, configuration and seed.

        Same seed, same dict, on every backend; the schema is ``results.schema.json`` in
        this package (:func:`bastion.assess.schema.load_schema`).
        """
        import bastion

        cells = [{k: v for k, v in r.items() if k != "timing"} for r in self.records]
        counts = {status: sum(r["status"] == status for r in self.records) for status in (OK, SKIPPED, FAILED)}
        return _clean_floats(
            {
                "schema": SCHEMA_ID,
                "schema_version": SCHEMA_VERSION,
                "bastion_version": bastion.__version__,
                "seed": self.config.seed,
                "config": self.config.to_dict(),
                "model": {**self.model, **self.profile.to_dict()},
                "data": self.data,
                "counts": counts,
                "summary": self.summary(),
                "metrics": self.metrics(),
                "cells": cells,
            }
        )

    def write_report(self, folder: str | Path) -> Path:
        """Write ``index.html`` (self-contained), ``results.json`` and ``timings.json``; return the folder."""
        from bastion.assess.report import render

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / RESULTS_FILE).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        (folder / TIMINGS_FILE).write_text(json.dumps(self.timings(), indent=2, sort_keys=True) + "\n")
        (folder / REPORT_FILE).write_text(render(self), encoding="utf-8")
        return folder

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {sum(r['status'] == s for r in self.records)}" for s in (OK, SKIPPED, FAILED))
        return f"Assessment(model={self.model['sha256'][:12]}, data={self.data['name']!r}, cells: {counts})"


def assess(
    model: Any,
    dataset: Any,
    *,
    config: Any = None,
    backend: Any = "local",
    quick: bool = False,
    cache: str | Path | bool | None = None,
    on_cell: Callable[[dict[str, Any], int, int], None] | None = None,
    model_source: str | None = None,
) -> Assessment:
    """Run the threat matrix on ``model``: evasion, duplication and poisoning, attacks then defenses.

    Each cell (one attack against one model variant, one defense re-evaluated) runs on its
    own, seeded from the configuration's ``seed`` and the cell's name, and is cached as soon
    as it finishes: running the same assessment again, after an interruption or not, reads
    the finished cells back. Cells the model cannot run (gradients for white-box attacks, a
    retrainable architecture for defenses) are skipped with the reason.

    Args:
        model: a bastion Model (``TorchModel``, ``SklearnModel``, ``OnnxModel``, ...).
        dataset: the :class:`~bastion.Dataset` the model was trained on (its training split
            holds the members for membership inference).
        config: ``None`` (the default preset), a dict, a TOML path or an
            :class:`~bastion.assess.config.AssessConfig` (see docs/assess.md for the keys).
        backend: ``"local"`` (processes on this machine), ``"serial"``, ``"ray"``, or a
            :class:`~bastion.backends.Backend` (e.g. ``RayBackend(address="auto")``).
        quick: start from the one-minute smoke preset.
        cache: folder of the per-cell cache; ``None`` uses bastion's cache folder
            (``$BASTION_CACHE_DIR`` or ``~/.cache/bastion``), ``False`` turns it off.
        on_cell: ``on_cell(record, n_done, n_total)`` after each cell (progress displays).
        model_source: where the model came from, for the report (e.g. its path).

    Returns:
        An :class:`Assessment`.

    Raises:
        ValidationError: a bad configuration (naming the key), or a model that does not fit
            the data.
        InputTypeError: not a model, not a Dataset, or a bad backend.
    """
    config = make_config(config, quick=quick)
    target = make_target(model, dataset)
    if cache is True or cache is None:
        folder = default_cache_dir() / "assess"
    elif cache is False:
        folder = None
    elif isinstance(cache, (str, Path)):
        folder = Path(cache)
    else:
        raise InputTypeError(f"`cache` must be a folder, None or False, got {type(cache).__name__}")
    runner = get_backend(backend)
    if not target.portable and not isinstance(runner, SerialBackend):
        warnings.warn(
            f"{type(model).__name__} cannot be saved as bastion model files, so it cannot travel to worker "
            "processes; running the assessment in this process (backend='serial'). To run it in parallel, use a "
            "zoo architecture or export the module to ONNX; pass backend='serial' to silence this warning",
            AssessWarning,
            stacklevel=2,
        )
        runner = SerialBackend()
    model_profile = profile(model)
    cells = [cell for section in sections() for cell in section.plan(config, model_profile)]
    logger.info("assessment plan: %d cells on %r", len(cells), runner)
    records = run_plan(cells, config=config, target=target, backend=runner, cache=CellCache(folder), on_cell=on_cell)
    return Assessment(
        config=config,
        profile=model_profile,
        model={"sha256": target.sha256, "source": model_source or type(model).__name__},
        data={
            "name": dataset.name,
            "sha256": dataset_sha256(dataset),
            "n_train": len(dataset.x_train),
            "n_test": len(dataset.x_test),
            "classes": list(dataset.classes),
        },
        records=records,
        backend=backend if isinstance(backend, str) else type(backend).__name__,
    )


__all__ = ["AssessWarning", "Assessment", "assess"]
