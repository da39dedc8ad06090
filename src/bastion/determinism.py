"""Determinism: what bastion guarantees about same seed, same result, and a strict mode.

Every random choice in bastion takes a ``seed``, drawn from private generators: with the
same seed, inputs, library versions and thread count, results are the same bit for bit,
across runs and across processes (the ``local`` and ``ray`` backends included). What can
differ is floating-point *reduction order*: torch and BLAS split sums across threads, so a
model trained with 4 threads differs in its last bits from one trained with 1, and those
bits can grow over many epochs into different predictions on borderline inputs.

:func:`set_deterministic` removes that source of difference too: it fixes the thread
counts (torch, and the BLAS and OpenMP pools numpy and scikit-learn use) and asks torch for
deterministic algorithms only (an operation without one then raises instead of running).
"""

from __future__ import annotations

import os

import torch
from threadpoolctl import threadpool_limits

from bastion.validation import check_scalar

_state: dict[str, object] = {"enabled": False, "limits": None, "threads": None}


def set_deterministic(enabled: bool = True, *, threads: int = 1) -> None:
    """Switch bastion's process-wide deterministic mode on or off.

    On: torch uses ``threads`` intra-op threads and deterministic algorithms only
    (``torch.use_deterministic_algorithms``; cuDNN autotuning off), and the BLAS/OpenMP
    pools are limited to ``threads`` (``threadpoolctl``). Results then no longer depend on the
    machine's thread settings. Off: torch's defaults and the thread counts from before come
    back.

    Args:
        enabled: switch the mode on (``True``) or off.
        threads: threads for torch and the native pools while on (1 by default).

    Raises:
        InputTypeError, ValidationError: ``threads`` is not a positive int.

    Example:
        >>> import bastion
        >>> bastion.set_deterministic(True)
        >>> bastion.set_deterministic(False)
    """
    threads = check_scalar(threads, "threads", kind=int, low=1)
    if enabled:
        if not _state["enabled"]:
            _state["threads"] = torch.get_num_threads()
        # cuBLAS needs a fixed workspace to be deterministic; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.set_num_threads(threads)
        if _state["limits"] is not None:
            _state["limits"].restore_original_limits()
        _state["limits"] = threadpool_limits(limits=threads)
        _state["enabled"] = True
        return
    torch.use_deterministic_algorithms(False)
    if _state["limits"] is not None:
        _state["limits"].restore_original_limits()
        _state["limits"] = None
    if _state["threads"] is not None:
        torch.set_num_threads(_state["threads"])
        _state["threads"] = None
    _state["enabled"] = False


def is_deterministic() -> bool:
    """Whether :func:`set_deterministic` has switched the mode on."""
    return bool(_state["enabled"])
