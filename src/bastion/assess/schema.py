"""The versioned JSON Schema of ``results.json`` (``results.schema.json`` in this package).

``schema_version`` changes when a field is removed or changes meaning; new optional fields
keep the version. Pipelines read ``summary`` (one row per finding) and ``metrics`` (named
numbers, what ``--fail-under``/``--fail-over`` gate on); ``cells`` holds every cell's own
result.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_ID = "bastion-assess-results"
SCHEMA_VERSION = 1
SCHEMA_FILE = "results.schema.json"


@cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``results.json``."""
    return json.loads(resources.files("bastion.assess").joinpath(SCHEMA_FILE).read_text())


__all__ = ["SCHEMA_FILE", "SCHEMA_ID", "SCHEMA_VERSION", "load_schema"]
