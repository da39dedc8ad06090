"""What an assessment runs: attacks, budgets, the eps grid, defenses and seeds.

A configuration is a TOML file (``bastion assess --config assess.toml``) or a dict with the
same keys; every key is optional and falls back to the default preset (or to the quick
preset with ``quick=True``). Unknown keys and bad values are refused with an error that
names the key and lists what is allowed::

    seed = 0

    [evasion]
    eps = [0.05, 0.1, 0.2, 0.3]
    attacks = ["fgsm", "pgd", "apgd-ce", "apgd-dlr", "cw-l2", "square", "hopskipjump"]
    defenses = ["adversarial_training", "distillation"]

    [duplication]
    budgets = [250, 500, 1000]
    policies = ["probabilities", "rounded", "labels"]

    [poisoning]
    attacks = ["label_flip", "boundary_shift", "backdoor"]

The full list of keys, their meaning and defaults is :data:`KEYS` (and docs/assess.md).
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from bastion.exceptions import InputTypeError, ValidationError

EVASION_ATTACKS = ("fgsm", "pgd", "apgd-ce", "apgd-dlr", "cw-l2", "square", "hopskipjump")
EVASION_DEFENSES = ("adversarial_training", "distillation")
OUTPUT_POLICIES = ("probabilities", "rounded", "labels")
MEMBERSHIP_ATTACKS = ("loss", "lira")
POISONING_ATTACKS = ("label_flip", "boundary_shift", "backdoor")
SANITIZERS = ("spectral_signatures", "activation_clustering", "spectre", "knn_label", "micromodels")
NORMS = ("inf", "2")
GATEWAY_POLICIES = ("probs", "top1", "label", "round:2", "noise:0.01")
SECTION_NAMES = ("evasion", "duplication", "poisoning", "gateway", "training")


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, bounds or allowed values, and what it means."""

    kind: str  # "int", "float", "bool", "str", "ints", "floats", "strs"
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    empty: bool = False  # a list that may be empty (that part of the section is not run)


KEYS: dict[str, dict[str, Key]] = {
    "": {
        "seed": Key(
            "int", "seed of the whole run; every cell's seed derives from it and the cell's name", 0, 2**32 - 1
        ),
        "samples": Key("int", "test samples attacked by the evasion and extraction cells", 10),
    },
    "evasion": {
        "enabled": Key("bool", "run the adversarial-examples section"),
        "eps": Key("floats", "the eps grid (input units; L-inf or L2 per `norm`)", 0.0),
        "norm": Key("str", "threat model of the eps grid", choices=NORMS),
        "attacks": Key("strs", "the attack ensemble behind robust accuracy", choices=EVASION_ATTACKS),
        "defenses": Key(
            "strs", "model defenses retrained and re-evaluated the same way", choices=EVASION_DEFENSES, empty=True
        ),
        "headline_eps": Key("float", "the eps whose robust accuracy the summary and gating report", 0.0),
        "train_eps": Key("float", "eps of PGD adversarial training", 0.0),
        "train_steps": Key("int", "PGD steps per minibatch of adversarial training", 1),
        "defense_epochs": Key("int", "training epochs of each defended model", 1),
        "distillation_temperature": Key("float", "temperature of defensive distillation", 1.0),
        "steps": Key("int", "iterations of PGD, APGD and C&W", 1),
        "queries": Key("int", "query budget per sample of Square and HopSkipJump", 10),
        "diagnostics": Key("bool", "run robustness()'s gradient-masking checks"),
        "examples": Key("int", "inputs shown in the adversarial-examples figure", 1, 16),
    },
    "duplication": {
        "enabled": Key("bool", "run the model-duplication section (extraction, membership, PATE)"),
        "budgets": Key("ints", "query budgets of Knockoff extraction", 10),
        "policies": Key("strs", "output policies the extraction runs against", choices=OUTPUT_POLICIES, empty=True),
        "rounding_decimals": Key("int", "decimals kept by the `rounded` policy", 0, 10),
        "substitute_epochs": Key("int", "training epochs of the stolen substitute", 1),
        "membership": Key("strs", "membership-inference attacks", choices=MEMBERSHIP_ATTACKS, empty=True),
        "n_reference": Key("int", "LiRA's reference models", 2),
        "pate_teachers": Key("int", "PATE teachers", 2),
        "pate_sigmas": Key(
            "floats", "GNMax noise levels of the PATE sweep (one point of the epsilon curve each)", 0.01, empty=True
        ),
        "pate_queries": Key("int", "public samples the PATE student asks about", 10),
    },
    "poisoning": {
        "enabled": Key("bool", "run the poisoning section"),
        "attacks": Key("strs", "poisoning attacks", choices=POISONING_ATTACKS, empty=True),
        "sanitizers": Key("strs", "data sanitizers applied before retraining", choices=SANITIZERS, empty=True),
        "fraction": Key("float", "share of the training set the attacker poisons", 0.0, 0.5),
        "target_class": Key("int", "class the backdoor and boundary shift push inputs into", 0),
    },
    "gateway": {
        "enabled": Key("bool", "run Knockoff extraction through a local gateway (needs the serve extra)"),
        "policies": Key("strs", "output policies of the gateway's keys, one cell each", choices=GATEWAY_POLICIES),
        "quota": Key("int", "the quota of each key, in inputs: the thief's whole query budget", 10),
        "batch": Key("int", "inputs per request the thief sends", 1),
        "prada": Key("bool", "run PRADA on the gateway (the cells report the queries until its first alert)"),
        "substitute_epochs": Key("int", "training epochs of the stolen substitute", 1),
    },
    "training": {
        "epochs": Key("int", "epochs of every retrained copy of the model (shadows, poisoned models)", 1),
        "lr": Key("float", "Adam learning rate of retrained copies", 0.0),
        "batch_size": Key("int", "batch size of retrained copies", 1),
    },
}

DEFAULT: dict[str, Any] = {
    "seed": 0,
    "samples": 100,
    "evasion": {
        "enabled": True,
        "eps": [0.05, 0.1, 0.2, 0.3],
        "norm": "inf",
        "attacks": list(EVASION_ATTACKS),
        "defenses": list(EVASION_DEFENSES),
        "headline_eps": 0.1,
        "train_eps": 0.2,
        "train_steps": 7,
        "defense_epochs": 10,
        "distillation_temperature": 20.0,
        "steps": 20,
        "queries": 300,
        "diagnostics": True,
        "examples": 8,
    },
    "duplication": {
        "enabled": True,
        "budgets": [100, 300, 1000],
        "policies": list(OUTPUT_POLICIES),
        "rounding_decimals": 1,
        "substitute_epochs": 30,
        "membership": list(MEMBERSHIP_ATTACKS),
        "n_reference": 4,
        "pate_teachers": 25,
        "pate_sigmas": [1.0, 3.0, 10.0],
        "pate_queries": 200,
    },
    "poisoning": {
        "enabled": True,
        "attacks": list(POISONING_ATTACKS),
        "sanitizers": list(SANITIZERS),
        "fraction": 0.1,
        "target_class": 0,
    },
    "gateway": {
        "enabled": True,
        "policies": list(GATEWAY_POLICIES),
        "quota": 1000,
        "batch": 50,
        "prada": True,
        "substitute_epochs": 30,
    },
    "training": {"epochs": 10, "lr": 1e-3, "batch_size": 64},
}

# The one-minute smoke run: every section and figure, on tiny budgets.
QUICK_OVERRIDES: dict[str, Any] = {
    "samples": 30,
    "evasion": {
        "eps": [0.1, 0.3],
        "attacks": ["fgsm", "pgd", "square"],
        "defense_epochs": 2,
        "train_steps": 2,
        "steps": 5,
        "queries": 50,
        "examples": 4,
    },
    "duplication": {
        "budgets": [100, 300],
        "n_reference": 2,
        "pate_teachers": 10,
        "pate_sigmas": [1.0, 10.0],
        "pate_queries": 60,
    },
    "poisoning": {"sanitizers": ["spectre", "micromodels"]},
    "gateway": {"quota": 200, "substitute_epochs": 10},
    "training": {"epochs": 3},
}


@dataclass(frozen=True)
class AssessConfig:
    """A validated assessment configuration (see :data:`KEYS` for every key).

    Attributes:
        values: the full configuration, every key filled in, as nested dicts.
        preset: ``"default"`` or ``"quick"``, the preset the values started from.
    """

    values: Mapping[str, Any]
    preset: str = "default"

    @property
    def seed(self) -> int:
        """The run's seed."""
        return self.values["seed"]

    def section(self, name: str) -> dict[str, Any]:
        """A copy of one section's values (``"evasion"``, ``"duplication"``, ...)."""
        return copy.deepcopy(dict(self.values[name]))

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-ready dicts."""
        return {"preset": self.preset, **copy.deepcopy(dict(self.values))}

    def replace(self, **top_level: Any) -> AssessConfig:
        """A copy with top-level keys changed (``seed``, ``samples``), validated again."""
        values = copy.deepcopy(dict(self.values))
        values.update(top_level)
        return AssessConfig(_validate(values, "config"), self.preset)


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _describe(key: Key) -> str:
    if key.choices is not None:
        items = "a list of" if key.kind == "strs" else "one of"
        return f"{items} {', '.join(repr(c) for c in key.choices)}"
    names = {
        "int": "an int",
        "float": "a number",
        "bool": "true or false",
        "str": "a string",
        "ints": "a list of ints",
        "floats": "a list of numbers",
        "strs": "a list of strings",
    }
    text = names[key.kind]
    if key.low is not None or key.high is not None:
        low = "-inf" if key.low is None else _number(key.low)
        high = "inf" if key.high is None else _number(key.high)
        text += f" in {'(' if key.low is None else '['}{low}, {high}{')' if key.high is None else ']'}"
    return text


def _check_value(value: Any, key: Key, where: str, source: str) -> Any:
    expected = f"`{where}` in {source} must be {_describe(key)}"
    if key.kind in ("ints", "floats", "strs"):
        if not isinstance(value, list):
            raise InputTypeError(f"{expected}, got {value!r}")
        if not value and not key.empty:
            raise ValidationError(f"{expected} (at least one), got an empty list")
        scalar = Key(key.kind[:-1], key.help, key.low, key.high)
        items = [_check_value(item, scalar, where, source) for item in value]
        unknown = [item for item in items if key.choices is not None and item not in key.choices]
        if unknown:
            raise ValidationError(
                f"`{where}` in {source} must list only {', '.join(repr(c) for c in key.choices)}, got {unknown[0]!r}"
            )
        if len(set(items)) != len(items):
            raise ValidationError(f"`{where}` in {source} must not repeat values, got {value!r}")
        return items
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise InputTypeError(f"{expected}, got {value!r}")
        return value
    if key.kind == "str":
        if not isinstance(value, str):
            raise InputTypeError(f"{expected}, got {value!r}")
        if key.choices is not None and value not in key.choices:
            raise ValidationError(f"{expected}, got {value!r}")
        return value
    number = numbers.Integral if key.kind == "int" else numbers.Real
    if isinstance(value, bool) or not isinstance(value, number):
        raise InputTypeError(f"{expected}, got {value!r}")
    if (key.low is not None and value < key.low) or (key.high is not None and value > key.high):
        raise ValidationError(f"{expected}, got {value!r}")
    return int(value) if key.kind == "int" else float(value)


def _check_keys(values: Mapping[str, Any], allowed: dict[str, Any], prefix: str, source: str) -> None:
    for name in values:
        if name not in allowed:
            where = f"{prefix}{name}"
            raise ValidationError(
                f"unknown key `{where}` in {source}; allowed keys"
                f"{' in [' + prefix.rstrip('.') + ']' if prefix else ''}: {', '.join(sorted(allowed))}"
            )


def _validate(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise InputTypeError(f"`config` must be a mapping of keys to values, got {type(values).__name__}")
    _check_keys(values, {**KEYS[""], **{name: None for name in SECTION_NAMES}}, "", source)
    checked: dict[str, Any] = {}
    for name, key in KEYS[""].items():
        checked[name] = _check_value(values[name], key, name, source)
    for section in SECTION_NAMES:
        table = values[section]
        if not isinstance(table, Mapping):
            raise InputTypeError(f"`{section}` in {source} must be a table ([{section}]), got {table!r}")
        _check_keys(table, KEYS[section], f"{section}.", source)
        checked[section] = {
            name: _check_value(table[name], key, f"{section}.{name}", source) for name, key in KEYS[section].items()
        }
    evasion = checked["evasion"]
    if evasion["headline_eps"] not in evasion["eps"]:
        raise ValidationError(
            f"`evasion.headline_eps` in {source} must be one of `evasion.eps` {evasion['eps']}, "
            f"got {evasion['headline_eps']!r}"
        )
    checked["evasion"]["eps"] = sorted(evasion["eps"])
    checked["duplication"]["budgets"] = sorted(checked["duplication"]["budgets"])
    return checked


def make_config(config: Any = None, *, quick: bool = False) -> AssessConfig:
    """A validated configuration from ``None`` (the preset), a dict, a TOML path or a config.

    Args:
        config: ``None``, a mapping with the keys of :data:`KEYS`, a path to a TOML file, or
            an :class:`AssessConfig` (returned as is).
        quick: start from the one-minute smoke preset instead of the default one.

    Raises:
        ValidationError: an unknown key (the message lists the allowed keys) or a value out
            of range (the message gives the allowed values); invalid TOML.
        InputTypeError: a value of the wrong type.
    """
    if isinstance(config, AssessConfig):
        return config
    preset = "quick" if quick else "default"
    base = _merge(DEFAULT, QUICK_OVERRIDES) if quick else copy.deepcopy(DEFAULT)
    if config is None:
        return AssessConfig(_validate(base, "the preset"), preset)
    source = "config"
    if isinstance(config, (str, Path)):
        path = Path(config)
        source = str(path)
        if not path.is_file():
            raise ValidationError(f"`config` must be a TOML file, {str(path)!r} does not exist")
        try:
            config = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ValidationError(f"{path}: not valid TOML: {error}") from error
    if not isinstance(config, Mapping):
        raise InputTypeError(f"`config` must be None, a dict, a TOML path or an AssessConfig, got {config!r}")
    _check_keys(config, {**KEYS[""], **{name: None for name in SECTION_NAMES}}, "", source)
    for section in SECTION_NAMES:
        if section in config and not isinstance(config[section], Mapping):
            raise InputTypeError(f"`{section}` in {source} must be a table ([{section}]), got {config[section]!r}")
        if section in config:
            _check_keys(config[section], KEYS[section], f"{section}.", source)
    return AssessConfig(_validate(_merge(base, config), source), preset)


def config_keys() -> list[dict[str, str]]:
    """Every key as ``{"key", "type", "default", "help"}`` rows (the docs table)."""
    rows = []
    for section, keys in KEYS.items():
        for name, key in keys.items():
            default = DEFAULT[name] if not section else DEFAULT[section][name]
            rows.append(
                {
                    "key": f"{section + '.' if section else ''}{name}",
                    "type": _describe(key),
                    "default": repr(default),
                    "help": key.help,
                }
            )
    return rows


__all__ = ["KEYS", "AssessConfig", "Key", "config_keys", "make_config"]
