"""The extension points of an assessment: sections, their cells, and the cell functions.

An assessment is a plan of independent **cells** (one attack against one model variant, one
defense re-evaluated, ...). Cells are grouped in **sections**, one per threat family. A
section is registered with :func:`register_section` and brings three functions:

- ``plan(config, profile) -> list[Cell]``: the cells to run for this configuration and
  model (a cell the model cannot run is planned with ``skip`` set to the reason);
- ``summarize(records, config) -> list[dict]``: rows of the summary table (worst finding,
  best defense, its cost), from the finished cells' records;
- ``figures(records, config) -> list[Figure]``: the report's figures for the section;
- ``metrics(records, config) -> dict[str, float]``: the named numbers pipelines gate on
  (``robust_accuracy@0.1``, ``extraction_fidelity@1000``, ...).

Each cell names a **cell function**, registered with :func:`cell_function`: a top-level
function ``fn(context) -> dict`` (it travels to worker processes and Ray tasks by
reference) that returns the cell's JSON-ready result. A new threat family (model-file
scan, the serving gateway) adds one module that registers its section and cell functions
and is imported by :mod:`bastion.assess.sections`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bastion.exceptions import BastionError, ValidationError


class CellUnavailableError(BastionError):
    """Raised by a cell function that finds at run time it cannot run; the message is the reason."""


@dataclass(frozen=True)
class Cell:
    """One independent unit of an assessment.

    Attributes:
        id: a stable, unique name, ``"<section>/<name>"``; the cell's seed and cache entry
            derive from it.
        section: the section that planned it.
        function: the registered cell function that runs it.
        title: a short human label (progress display, report).
        params: the cell's JSON-ready parameters (with the configuration, what its result
            depends on).
        seed_key: the name its seed derives from (default: ``id``); cells that must share
            random draws (the poisoned data of one attack under several sanitizers) share it.
        cost: a rough relative run time (1 = a few seconds), for the progress ETA.
        skip: why the cell cannot run on this model, or ``None``.
    """

    id: str
    section: str
    function: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)
    seed_key: str | None = None
    cost: float = 1.0
    skip: str | None = None


@dataclass(frozen=True)
class Figure:
    """One figure of the report: inline SVG (or an ``<img>`` with a base64 PNG) and a caption."""

    id: str
    title: str
    markup: str
    caption: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A threat family of the assessment (see the module docstring)."""

    name: str
    title: str
    plan: Callable[[Any, Any], list[Cell]]
    summarize: Callable[[list[dict[str, Any]], Any], list[dict[str, Any]]]
    figures: Callable[[list[dict[str, Any]], Any], list[Figure]]
    metrics: Callable[[list[dict[str, Any]], Any], dict[str, float]] = lambda records, config: {}
    order: int = 100


SECTIONS: dict[str, Section] = {}
CELL_FUNCTIONS: dict[str, Callable[[Any], dict[str, Any]]] = {}


def register_section(section: Section) -> Section:
    """Add a section to every assessment planned from now on; return it.

    Raises:
        ValidationError: a section of that name is already registered.
    """
    if section.name in SECTIONS:
        raise ValidationError(f"a section named {section.name!r} is already registered")
    SECTIONS[section.name] = section
    return section


def cell_function(name: str) -> Callable[[Callable[[Any], dict[str, Any]]], Callable[[Any], dict[str, Any]]]:
    """Decorator: register ``fn(context) -> dict`` as the cell function ``name``."""

    def register(fn: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
        if name in CELL_FUNCTIONS:
            raise ValidationError(f"a cell function named {name!r} is already registered")
        CELL_FUNCTIONS[name] = fn
        return fn

    return register


def sections() -> list[Section]:
    """The registered sections, in report order."""
    import bastion.assess.sections  # noqa: F401  (registers the built-in sections)

    return sorted(SECTIONS.values(), key=lambda section: (section.order, section.name))


__all__ = [
    "CELL_FUNCTIONS",
    "SECTIONS",
    "Cell",
    "CellUnavailableError",
    "Figure",
    "Section",
    "cell_function",
    "register_section",
    "sections",
]
