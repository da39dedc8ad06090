"""Datasets users bring from disk: ``.npz`` archives and MNIST-style IDX folders.

Nothing here unpickles: ``.npz`` files are opened with ``allow_pickle=False`` and IDX files
are parsed byte by byte.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from bastion.data.dataset import Dataset
from bastion.exceptions import ValidationError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

# IDX type codes (LeCun et al., the MNIST file format) and the numpy dtypes they hold.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _as_features(array: np.ndarray) -> np.ndarray:
    # 8-bit images are the common case; bring them to [0, 1] like the embedded sets.
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return array.astype(np.float32)


def load_npz(path: str | Path) -> Dataset:
    """Load a ``.npz`` archive with arrays ``x_train, y_train, x_test, y_test``.

    ``uint8`` features are divided by 255; other features are kept as they are (float32).

    Raises:
        ValidationError: the file is missing, not an npz archive, lacks a key, or holds bad data.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"`path` must be an existing .npz file, got {str(path)!r} (not found)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise ValidationError(
                    f"{path}: an .npz dataset must hold arrays {list(NPZ_KEYS)}, "
                    f"missing {missing} (found {sorted(archive.files)})"
                )
            arrays = {key: archive[key] for key in NPZ_KEYS}
    except ValueError as error:
        if isinstance(error, ValidationError):
            raise
        raise ValidationError(f"{path}: cannot read as a pickle-free .npz archive: {error}") from error
    except OSError as error:
        raise ValidationError(f"{path}: not a readable .npz archive: {error}") from error
    return Dataset.from_arrays(
        _as_features(arrays["x_train"]),
        arrays["y_train"],
        _as_features(arrays["x_test"]),
        arrays["y_test"],
        name=str(path),
    )


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into a numpy array.

    Raises:
        ValidationError: unreadable file or corrupt gzip, bad magic number, unknown type code,
            or a size that does not match the header.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:  # missing file, unreadable file, corrupt gzip stream
        raise ValidationError(f"{path}: cannot read IDX file: {error}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValidationError(f"{path}: not an IDX file (bad magic number)")
    type_code, n_dims = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValidationError(f"{path}: unknown IDX type code 0x{type_code:02x}")
    header_end = 4 + 4 * n_dims
    if len(raw) < header_end:
        raise ValidationError(f"{path}: truncated IDX header")
    shape = tuple(int(v) for v in np.frombuffer(raw[4:header_end], dtype=">u4"))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_end != expected:
        raise ValidationError(
            f"{path}: IDX header promises {expected} data bytes for shape {shape}, found {len(raw) - header_end}"
        )
    return np.frombuffer(raw[header_end:], dtype=dtype).reshape(shape)


def _find_idx(folder: Path, stems: tuple[str, ...]) -> Path:
    for stem in stems:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    raise ValidationError(
        f"{folder}: an IDX dataset folder must hold {stems[0]}[.gz]; not found. "
        "Expected the four MNIST files: train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
    )


def load_idx_folder(folder: str | Path) -> Dataset:
    """Load MNIST or Fashion-MNIST from a folder with the four ``*-ubyte[.gz]`` files.

    Images come back as ``(n, 1, 28, 28)`` float32 in [0, 1].
    """
    folder = Path(folder)
    arrays = {key: read_idx(_find_idx(folder, stems)) for key, stems in _IDX_FILES.items()}
    images = {}
    for key in ("x_train", "x_test"):
        array = arrays[key]
        if array.ndim != 3:
            raise ValidationError(f"{folder}: {key} must be (n, rows, cols) images, got shape {array.shape}")
        images[key] = _as_features(array)[:, None, :, :]
    return Dataset.from_arrays(
        images["x_train"], arrays["y_train"], images["x_test"], arrays["y_test"], name=folder.name
    )
