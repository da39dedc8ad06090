"""Static inspection of model files: what a tampered file would do when loaded, found
without loading it.

``bastion.scan(path)`` (the package is callable; it is :func:`scan`) reads a file or folder and
returns a :class:`ScanReport`: pickles (bare, protocols 0 to 5, inside ``torch.save`` zips,
legacy ``torch.save`` files and ``.npy``/``.npz`` object arrays, nested in each other),
TorchScript code, ONNX graphs, safetensors headers, skops schemas and bastion model folders.
Nothing in the file is ever unpickled, imported, compiled or run. :func:`check_before_load`
is the gate a loader (``bastion serve``) calls first.

Modules, one format each: :mod:`~bastion.scan.pickles` (the pickle analysis, on the standard
library's ``pickletools``), :mod:`~bastion.scan.policy` (dangerous, unknown and known-safe
globals), :mod:`~bastion.scan.zips`, :mod:`~bastion.scan.numpy_files`,
:mod:`~bastion.scan.torchscript`, :mod:`~bastion.scan.onnx_files`,
:mod:`~bastion.scan.safetensors_files`, :mod:`~bastion.scan.skops_files`,
:mod:`~bastion.scan.folders`; :mod:`~bastion.scan.dispatch` recognises formats by content;
:mod:`~bastion.scan.findings` holds the report types.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

from bastion.exceptions import InputTypeError, UnsafeFileError, ValidationError
from bastion.scan.dispatch import scan_path
from bastion.scan.findings import SEVERITIES, Finding, ScanReport, severity_rank


def scan(path: str | Path) -> ScanReport:
    """Scan a model file or folder without loading it.

    Args:
        path: a file (``.pt``, ``.pth``, ``.bin``, ``.ckpt``, ``.pkl``, ``.joblib``, ``.npy``,
            ``.npz``, ``.onnx``, ``.safetensors``, ``.skops``, TorchScript, or anything else:
            formats are recognised by content) or a folder (a bastion model folder, or any
            folder: every file in it is scanned).

    Returns:
        A :class:`ScanReport`: the findings worst first, the checks that ran, the members
        inspected and the pickle globals seen.

    Raises:
        InputTypeError: ``path`` is not a str or Path.
        ValidationError: ``path`` does not exist.
    """
    if not isinstance(path, (str, Path)):
        raise InputTypeError(f"`path` must be a file or folder path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"`path` must be an existing file or folder, got {str(path)!r} (not found)")
    return scan_path(path)


def check_before_load(path: str | Path, *, fail_on: str = "high") -> ScanReport:
    """Scan ``path`` and refuse it if any finding is at or above ``fail_on``.

    The gate for loaders: ``bastion serve`` calls it before loading a model.

    Args:
        path: the model file or folder.
        fail_on: the lowest severity that refuses the file: ``critical``, ``high`` (the
            default), ``medium`` or ``info``.

    Returns:
        The :class:`ScanReport`, when nothing reaches ``fail_on``.

    Raises:
        UnsafeFileError: a finding at or above ``fail_on`` (the message names the worst ones).
        ValidationError: ``fail_on`` is not a severity, or ``path`` does not exist.
        InputTypeError: ``path`` is not a str or Path.
    """
    severity_rank(fail_on)
    report = scan(path)
    blocking = report.at_or_above(fail_on)
    if blocking:
        shown = "; ".join(f"{f.severity} at {f.location}: {f.what}" for f in blocking[:3])
        more = f" (and {len(blocking) - 3} more)" if len(blocking) > 3 else ""
        raise UnsafeFileError(
            f"{path}: bastion scan refuses to load it, {len(blocking)} finding(s) at or above {fail_on}: "
            f"{shown}{more}. Run `bastion scan {path}` for the full report"
        )
    return report


class _CallableModule(types.ModuleType):
    """Lets ``bastion.scan(path)`` call :func:`scan` while ``bastion.scan.X`` stays the package."""

    def __call__(self, path: str | Path) -> ScanReport:
        return scan(path)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["SEVERITIES", "Finding", "ScanReport", "check_before_load", "scan"]
