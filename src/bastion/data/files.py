"""Datasets users bring from disk: ``.npz`` archives and MNIST-style IDX folders.

Nothing here unpickles: ``.npz`` members are read with ``allow_pickle=False`` and IDX files
are parsed byte by byte. Declared shapes are checked against :mod:`bastion.limits` before
any data is read or decompressed.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from pathlib import Path

import numpy as np

from bastion.data.dataset import Dataset
from bastion.exceptions import ValidationError
from bastion.limits import check_allocation

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

# Deflate expands at most 1032 times (RFC 1951: a 258-byte match costs at least 2 bits); a
# header that promises more than that from a compressed member is a lie, refused before reading.
DEFLATE_MAX_RATIO = 1032
# numpy arrays have at most 64 dimensions; real IDX files have 1 to 4.
_IDX_MAX_DIMS = 16

_IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _as_features(array: np.ndarray) -> np.ndarray:
    # 8-bit images are the common case; bring them to [0, 1] like the embedded sets. Any other
    # dtype is left to Dataset.from_arrays, which refuses booleans and complex numbers before casting.
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return array


def _npz_members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    names = set(archive.namelist())
    found = {key: name for key in NPZ_KEYS for name in (f"{key}.npy", key) if name in names}
    missing = [key for key in NPZ_KEYS if key not in found]
    if missing:
        present = sorted(name.removesuffix(".npy") for name in names)
        raise ValidationError(
            f"{path}: an .npz dataset must hold arrays {list(NPZ_KEYS)}, missing {missing} (found {present})"
        )
    return {key: archive.getinfo(name) for key, name in found.items()}


def _read_npy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One array of an npz, its declared size checked against the limits before it is read."""
    where = f"{path}: array {info.filename!r}"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # numpy writes stored or deflated members; bzip2 and lzma expand thousands of times more.
        raise ValidationError(
            f"{where} uses zip compression method {info.compress_type}; numpy writes stored or deflated members"
        )
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    if dtype.hasobject:
        raise ValidationError(f"{where} holds Python objects (dtype {dtype}); a pickle-free .npz holds numbers only")
    declared = check_allocation(shape, dtype.itemsize, where)
    if declared > info.file_size or (
        info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 1024
    ):
        raise ValidationError(
            f"{where}: its header declares shape {shape} ({declared} bytes), more than the archive holds "
            f"({info.compress_size} bytes compressed); the file is truncated or forged"
        )
    with archive.open(info) as stream:
        return np.lib.format.read_array(stream, allow_pickle=False)


def load_npz(path: str | Path) -> Dataset:
    """Load a ``.npz`` archive with arrays ``x_train, y_train, x_test, y_test``.

    ``uint8`` features are divided by 255; other features are kept as they are (float32).
    Each array's header is read first and its declared size checked against
    :mod:`bastion.limits` before any data is decompressed.

    Raises:
        ValidationError: the file is missing, not an npz archive (an ``.npy`` renamed, a
            truncated file), lacks a key, declares arrays over the limits, or holds bad data.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"`path` must be an existing .npz file, got {str(path)!r} (not found)")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            renamed = handle.read(6) == b"\x93NUMPY"
        hint = " (it is a single .npy array renamed .npz)" if renamed else ""
        raise ValidationError(f"{path}: not an .npz archive{hint}; save the four arrays with numpy.savez")
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {key: _read_npy_member(archive, info, path) for key, info in _npz_members(archive, path).items()}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        if isinstance(error, ValidationError):
            raise
        raise ValidationError(f"{path}: cannot read as a pickle-free .npz archive: {error}") from error
    return Dataset.from_arrays(
        _as_features(arrays["x_train"]),
        arrays["y_train"],
        _as_features(arrays["x_test"]),
        arrays["y_test"],
        name=str(path),
    )


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into a numpy array.

    The header is read first and the declared shape checked against :mod:`bastion.limits`;
    then exactly the declared number of bytes is decompressed, so a small ``.gz`` cannot
    expand into more than its header promised.

    Raises:
        ValidationError: unreadable file or corrupt or truncated gzip, bad magic number,
            unknown type code, a shape over the limits, or a size that does not match the header.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            magic = handle.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
                raise ValidationError(f"{path}: not an IDX file (bad magic number)")
            type_code, n_dims = magic[2], magic[3]
            if n_dims > _IDX_MAX_DIMS:
                raise ValidationError(f"{path}: IDX header declares {n_dims} dimensions, at most {_IDX_MAX_DIMS}")
            if type_code not in _IDX_DTYPES:
                raise ValidationError(f"{path}: unknown IDX type code 0x{type_code:02x}")
            dims = handle.read(4 * n_dims)
            if len(dims) != 4 * n_dims:
                raise ValidationError(f"{path}: truncated IDX header")
            shape = tuple(int(v) for v in np.frombuffer(dims, dtype=">u4"))
            dtype = _IDX_DTYPES[type_code]
            expected = check_allocation(shape, dtype.itemsize, f"{path}: IDX header")
            promise = f"{path}: IDX header promises {expected} data bytes for shape {shape}, found"
            stored = path.stat().st_size
            if expected > (DEFLATE_MAX_RATIO * stored + 1024 if opener is gzip.open else stored):
                # Checked before reading: a tiny file cannot make bastion decompress gigabytes.
                raise ValidationError(f"{promise} a {stored}-byte file that cannot hold them (truncated or forged)")
            raw = handle.read(expected)
            if len(raw) != expected:
                raise ValidationError(f"{promise} {len(raw)}")
            if handle.read(1):
                raise ValidationError(f"{promise} more")
    except (OSError, EOFError, zlib.error) as error:  # missing or unreadable file, corrupt or truncated gzip
        raise ValidationError(f"{path}: cannot read IDX file: {error}") from error
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


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
