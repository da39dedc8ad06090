"""Datasets from disk: .npz archives and MNIST-style IDX folders, good and bad."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import bastion
from bastion.data import load_idx_folder, load_npz, read_idx
from bastion.exceptions import ValidationError


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def write_npz(path, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.random((12, 3), dtype=np.float32),
        "y_train": np.arange(12) % 3,
        "x_test": rng.random((6, 3), dtype=np.float32),
        "y_test": np.arange(6) % 3,
    }
    arrays.update(overrides)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    np.savez(path, **arrays)
    return arrays


def write_mnist_folder(folder, *, gz: bool, n_train: int = 6, n_test: int = 4):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 3).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 3).astype(np.uint8),
    }
    folder.mkdir(exist_ok=True)
    for name, array in arrays.items():
        raw = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return arrays


def test_npz_round_trip_keeps_arrays(tmp_path):
    arrays = write_npz(tmp_path / "d.npz")
    data = bastion.load(tmp_path / "d.npz")
    np.testing.assert_array_equal(data.x_train, arrays["x_train"])
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])
    assert data.input_shape == (3,) and data.n_classes == 3 and data.y_train.dtype == np.int64


def test_npz_uint8_features_are_scaled_to_unit_range(tmp_path):
    write_npz(
        tmp_path / "d.npz",
        x_train=np.full((12, 2), 255, dtype=np.uint8),
        x_test=np.zeros((6, 2), dtype=np.uint8),
    )
    data = load_npz(tmp_path / "d.npz")
    assert data.x_train.dtype == np.float32 and data.x_train.max() == 1.0


def test_npz_missing_file_is_named(tmp_path):
    with pytest.raises(ValidationError, match=r"existing .npz file, got .*nope.npz.* \(not found\)"):
        load_npz(tmp_path / "nope.npz")


def test_npz_missing_keys_are_listed(tmp_path):
    write_npz(tmp_path / "d.npz", y_test=None)
    with pytest.raises(ValidationError, match=r"missing \['y_test'\]"):
        load_npz(tmp_path / "d.npz")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    write_npz(tmp_path / "d.npz", x_train=np.array([object()] * 12, dtype=object))
    with pytest.raises(ValidationError, match=r"pickle-free"):
        load_npz(tmp_path / "d.npz")


def test_npz_that_is_not_an_archive_is_refused(tmp_path):
    (tmp_path / "d.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValidationError, match=r"d.npz"):
        load_npz(tmp_path / "d.npz")


def test_npz_mismatched_lengths_say_which_array(tmp_path):
    write_npz(tmp_path / "d.npz", y_train=np.arange(10) % 3)
    with pytest.raises(ValidationError, match=r"y_train` must have 12 labels \(one per input\), got 10"):
        load_npz(tmp_path / "d.npz")


def test_npz_mismatched_sample_shapes_are_refused(tmp_path):
    write_npz(tmp_path / "d.npz", x_test=np.zeros((6, 4), dtype=np.float32))
    with pytest.raises(ValidationError, match=r"x_test` must have shape \(n, 3\), got \(6, 4\)"):
        load_npz(tmp_path / "d.npz")


def test_npz_nan_features_are_refused(tmp_path):
    x_train = np.zeros((12, 3), dtype=np.float32)
    x_train[3, 1] = np.nan
    write_npz(tmp_path / "d.npz", x_train=x_train)
    with pytest.raises(ValidationError, match=r"x_train` must be finite, got 1 NaN"):
        load_npz(tmp_path / "d.npz")


def test_npz_labels_with_a_gap_are_refused(tmp_path):
    write_npz(tmp_path / "d.npz", y_train=np.array([0, 2] * 6), y_test=np.array([0, 2] * 3))
    with pytest.raises(ValidationError, match=r"every label in 0..2, classes \[1\] never occur"):
        load_npz(tmp_path / "d.npz")


def test_npz_negative_labels_are_refused(tmp_path):
    write_npz(tmp_path / "d.npz", y_train=np.arange(12) % 3 - 1)
    with pytest.raises(ValidationError, match=r"0..k-1, got -1"):
        load_npz(tmp_path / "d.npz")


def test_npz_test_labels_beyond_training_classes_are_refused(tmp_path):
    write_npz(tmp_path / "d.npz", y_test=np.array([0, 1, 2, 3, 0, 1]))
    with pytest.raises(ValidationError, match=r"y_test` must hold labels in 0..2"):
        load_npz(tmp_path / "d.npz")


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_round_trip(tmp_path, gz):
    arrays = write_mnist_folder(tmp_path / "mnist", gz=gz)
    data = bastion.load(tmp_path / "mnist")
    assert data.input_shape == (1, 28, 28) and data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train[:, 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert data.name == "mnist"


@pytest.mark.parametrize(("type_code", "dtype"), [(0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
def test_read_idx_decodes_big_endian_types(tmp_path, type_code, dtype):
    array = np.arange(6).reshape(2, 3).astype(dtype)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array, type_code))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)


def test_read_idx_corrupt_gzip_is_refused(tmp_path):
    (tmp_path / "a.idx.gz").write_bytes(b"definitely not gzip")
    with pytest.raises(ValidationError, match=r"a.idx.gz: cannot read IDX file"):
        read_idx(tmp_path / "a.idx.gz")


def test_read_idx_missing_file_is_refused(tmp_path):
    with pytest.raises(ValidationError, match=r"missing.idx: cannot read IDX file"):
        read_idx(tmp_path / "missing.idx")


def test_read_idx_bad_magic_is_refused(tmp_path):
    (tmp_path / "a.idx").write_bytes(b"\x01\x02\x08\x01" + bytes(8))
    with pytest.raises(ValidationError, match=r"bad magic number"):
        read_idx(tmp_path / "a.idx")


def test_read_idx_unknown_type_code_is_refused(tmp_path):
    (tmp_path / "a.idx").write_bytes(bytes([0, 0, 0x07, 1]) + np.array([1], ">u4").tobytes() + b"\x00")
    with pytest.raises(ValidationError, match=r"unknown IDX type code 0x07"):
        read_idx(tmp_path / "a.idx")


def test_read_idx_truncated_header_is_refused(tmp_path):
    (tmp_path / "a.idx").write_bytes(bytes([0, 0, 0x08, 3, 0, 0]))
    with pytest.raises(ValidationError, match=r"truncated IDX header"):
        read_idx(tmp_path / "a.idx")


def test_read_idx_size_mismatch_says_promised_and_found_bytes(tmp_path):
    raw = idx_bytes(np.zeros((2, 3), dtype=np.uint8))
    (tmp_path / "a.idx").write_bytes(raw[:-1])
    with pytest.raises(ValidationError, match=r"promises 6 data bytes for shape \(2, 3\), found 5"):
        read_idx(tmp_path / "a.idx")


def test_idx_folder_missing_file_lists_the_expected_names(tmp_path):
    write_mnist_folder(tmp_path / "mnist", gz=False)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValidationError, match=r"t10k-labels-idx1-ubyte"):
        load_idx_folder(tmp_path / "mnist")


def test_idx_folder_with_flat_images_is_refused(tmp_path):
    write_mnist_folder(tmp_path / "mnist", gz=False)
    (tmp_path / "mnist" / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((6, 784), dtype=np.uint8)))
    with pytest.raises(ValidationError, match=r"x_train must be \(n, rows, cols\) images, got shape \(6, 784\)"):
        load_idx_folder(tmp_path / "mnist")


def test_load_unknown_name_lists_what_it_accepts(tmp_path):
    with pytest.raises(ValidationError, match=r"one of \['breast_cancer', 'digits'\], an .npz file"):
        bastion.load("cifar10")
