"""Small helpers the built-in sections share."""

from __future__ import annotations

from typing import Any

import numpy as np

from bastion.assess.registry import CellUnavailableError

OK = "ok"


def subset(n: int, size: int, seed: int) -> np.ndarray:
    """``min(size, n)`` sorted indices out of ``n``, drawn with ``seed`` (the same for every cell)."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: min(size, n)])


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Share of ``x`` the model labels ``y``."""
    return float(np.mean(model.predict(x) == y))


def done(records: list[dict[str, Any]], function: str | None = None) -> list[dict[str, Any]]:
    """The records that finished (status ``ok``), optionally of one cell function."""
    return [r for r in records if r["status"] == OK and (function is None or r["function"] == function)]


def rounded(values: Any, digits: int = 5) -> list[float]:
    """Floats rounded for the JSON results (figures need no more precision)."""
    return [round(float(v), digits) for v in np.ravel(values)]


def require_class(module: Any, name: str, family: str) -> Any:
    """``module.name`` or a :class:`CellUnavailableError` saying that this part of bastion has not landed."""
    found = getattr(module, name, None)
    if found is None:
        raise CellUnavailableError(
            f"not available: {module.__name__}.{name} ({family}) is not in this version of bastion"
        )
    return found


def retrain_schedule(config: Any) -> dict[str, Any]:
    """The ``[training]`` schedule as keyword arguments of ``fit``/``train_like``."""
    training = config.section("training")
    return {"epochs": training["epochs"], "lr": training["lr"], "batch_size": training["batch_size"]}


def percent(value: float | None) -> str:
    """``0.4213`` -> ``"42.1%"``; ``None`` -> ``"n/a"``."""
    return "n/a" if value is None else f"{100 * value:.1f}%"
