"""Datasets: embedded (digits, breast_cancer), from disk (.npz, IDX), generated; web traffic streams.

``load(name_or_path)`` is the one entry point the CLI and the threat matrix use.
"""

from __future__ import annotations

from pathlib import Path

from bastion.data.access_log import read_access_log, write_access_log
from bastion.data.dataset import Dataset
from bastion.data.embedded import breast_cancer, digits
from bastion.data.files import load_idx_folder, load_npz, read_idx
from bastion.data.generators import synthetic_classification
from bastion.data.http_traffic import http_traffic
from bastion.data.traffic import TrafficStream
from bastion.exceptions import InputTypeError, ValidationError
from bastion.validation import check_scalar, check_seed

EMBEDDED = {"digits": digits, "breast_cancer": breast_cancer}


def load(name_or_path: str | Path, *, seed: int = 0, test_size: float = 0.25) -> Dataset:
    """Load a dataset by name or from disk.

    Args:
        name_or_path: ``"digits"``, ``"breast_cancer"``, a ``.npz`` file with
            ``x_train, y_train, x_test, y_test``, or a folder of MNIST-style IDX files.
        seed: seed of the train/test split (embedded datasets only).
        test_size: fraction of samples held out for testing (embedded datasets only; files
            bring their own split).

    Raises:
        ValidationError: unknown name, missing file, or malformed data.
    """
    if not isinstance(name_or_path, (str, Path)):
        raise InputTypeError(
            f"`name_or_path` must be a dataset name such as 'digits' or a path, got {type(name_or_path).__name__}"
        )
    seed = check_seed(seed)
    test_size = check_scalar(test_size, "test_size", low=0, high=1, include_low=False, include_high=False)
    if isinstance(name_or_path, str) and name_or_path in EMBEDDED:
        return EMBEDDED[name_or_path](seed=seed, test_size=test_size)
    path = Path(name_or_path)
    if path.is_dir():
        return load_idx_folder(path)
    if path.suffix == ".npz":
        return load_npz(path)
    raise ValidationError(
        f"`name_or_path` must be one of {sorted(EMBEDDED)}, an .npz file or a folder of IDX "
        f"files, got {str(name_or_path)!r}"
    )


__all__ = [
    "EMBEDDED",
    "Dataset",
    "TrafficStream",
    "breast_cancer",
    "digits",
    "http_traffic",
    "load",
    "load_idx_folder",
    "load_npz",
    "read_access_log",
    "read_idx",
    "synthetic_classification",
    "write_access_log",
]
