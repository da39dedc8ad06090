"""MITRE ATLAS identifiers of bastion's attacks (techniques) and defenses (mitigations).

The mapping is data shipped in the package (``atlas.json``, no download): each attack name
of an assessment maps to a technique ID (``AML.T0043.000`` craft adversarial data, white-box
optimisation; ``AML.T0024.002`` extract ML model; ``AML.T0020`` poison training data;
``AML.T0018.000`` backdoor), each defense to a mitigation ID (``AML.M0003`` model hardening,
``AML.M0002`` passive output obfuscation, ``AML.M0007`` sanitize training data). The table is
in docs/assess.md.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from bastion.exceptions import ValidationError


@cache
def atlas() -> dict[str, Any]:
    """The whole mapping: ``techniques``, ``mitigations``, ``attacks`` and ``defenses``."""
    return json.loads(resources.files("bastion.assess").joinpath("atlas.json").read_text())


def technique(attack: str) -> dict[str, str]:
    """``{"id", "name", "label"}`` of the ATLAS technique an attack name maps to.

    Raises:
        ValidationError: the attack is not in the mapping.
    """
    data = atlas()
    if attack not in data["attacks"]:
        raise ValidationError(f"`attack` must be one of {', '.join(sorted(data['attacks']))}, got {attack!r}")
    entry = data["attacks"][attack]
    return {"id": entry["technique"], "name": data["techniques"][entry["technique"]]["name"], "label": entry["label"]}


def mitigation(defense: str) -> dict[str, str]:
    """``{"id", "name", "label", "note"}`` of the ATLAS mitigation a defense name maps to.

    Raises:
        ValidationError: the defense is not in the mapping.
    """
    data = atlas()
    if defense not in data["defenses"]:
        raise ValidationError(f"`defense` must be one of {', '.join(sorted(data['defenses']))}, got {defense!r}")
    entry = data["defenses"][defense]
    return {
        "id": entry["mitigation"],
        "name": data["mitigations"][entry["mitigation"]]["name"],
        "label": entry["label"],
        "note": entry.get("note", ""),
    }


__all__ = ["atlas", "mitigation", "technique"]
