"""``bastion assess``: the whole threat matrix on one model, and a report a person reads.

:func:`assess` plans independent cells (one per attack and model variant), runs them through
an execution backend (serial, local processes or Ray), each seeded from the run's seed and
cached as it finishes, and returns an :class:`Assessment` whose ``write_report(folder)``
writes ``index.html`` and ``results.json`` (schema: ``results.schema.json``).

Modules: ``config`` (the TOML keys and presets), ``registry`` (sections and cell functions:
the extension points), ``sections/`` (evasion, duplication, poisoning), ``runner`` (seeds,
cache, backends), ``target`` (the model as cells receive it), ``atlas`` (MITRE ATLAS IDs),
``report`` (the HTML; figures from :mod:`bastion.plots`), ``schema`` and ``gating``
(results.json and thresholds).
"""

import sys
import types

from bastion.assess.assessment import Assessment, AssessWarning, assess
from bastion.assess.config import AssessConfig, make_config
from bastion.assess.registry import Cell, CellUnavailableError, Figure, Section, cell_function, register_section

__all__ = [
    "AssessConfig",
    "AssessWarning",
    "Assessment",
    "Cell",
    "CellUnavailableError",
    "Figure",
    "Section",
    "assess",
    "cell_function",
    "make_config",
    "register_section",
]


class _CallableModule(types.ModuleType):
    """``bastion.assess`` is this package and, called, :func:`assess` (``bastion.assess(model, data)``)."""

    def __call__(self, *args, **kwargs):
        return assess(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
