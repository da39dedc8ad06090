"""Hostile dataset files: each must end in a BastionError, within memory and time."""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile

import numpy as np
import pytest

from .conftest import PROBE_TIMEOUT_SECONDS, assert_one_line_error, run_cli, run_probes


class WritesMarker:
    """A pickle payload: unpickling it would create the marker file."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def forged_npy(shape: tuple[int, ...], dtype: str = "<f4", data: bytes = b"") -> bytes:
    """An .npy whose header declares ``shape`` over whatever data follows."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def good_arrays() -> dict[str, np.ndarray]:
    return {
        "x_train": np.zeros((6, 3), np.float32),
        "y_train": np.arange(6) % 3,
        "x_test": np.zeros((3, 3), np.float32),
        "y_test": np.arange(3),
    }


def write_zip(path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def npz_with(path, compression: int = zipfile.ZIP_DEFLATED, **replacements: bytes) -> None:
    members = {f"{key}.npy": npy_bytes(value) for key, value in good_arrays().items()}
    members.update({f"{key}.npy": value for key, value in replacements.items()})
    write_zip(path, members, compression)


def idx_header(shape: tuple[int, ...], type_code: int = 0x08) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes()


def mnist_folder(folder, **replacements: bytes) -> None:
    folder.mkdir()
    files = {
        "train-images-idx3-ubyte.gz": gzip.compress(idx_header((4, 28, 28)) + bytes(4 * 784)),
        "train-labels-idx1-ubyte.gz": gzip.compress(idx_header((4,)) + bytes([0, 1, 0, 1])),
        "t10k-images-idx3-ubyte.gz": gzip.compress(idx_header((2, 28, 28)) + bytes(2 * 784)),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_header((2,)) + bytes([0, 1])),
    }
    files.update(replacements)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def build_hostile_files(folder) -> dict[str, str]:
    """Write every hostile dataset under ``folder``; return probe name -> path."""
    paths = {}

    def path(name: str, suffix: str = ".npz"):
        paths[name] = str(folder / f"{name}{suffix}")
        return folder / f"{name}{suffix}"

    huge = good_arrays()
    npz_with(path("labels_with_one_huge_value"), y_train=npy_bytes(np.array([0, 1, 2, 0, 1, 10**18])))
    npz_with(path("labels_with_uint64_max"), y_train=npy_bytes(np.array([0, 1, 2, 0, 1, 2**64 - 1], np.uint64)))
    npz_with(path("declares_1e12_elements"), x_train=forged_npy((10**6, 10**6)))
    npz_with(path("declares_more_than_it_holds"), x_train=forged_npy((2**28,), data=bytes(4096)))
    npz_with(path("bzip2_member"), compression=zipfile.ZIP_BZIP2)
    npz_with(path("lzma_member"), compression=zipfile.ZIP_LZMA)
    npz_with(path("pickled_object_array"), x_train=npy_bytes(np.array([WritesMarker(folder / "MARKER")] * 6)))
    npz_with(path("object_dtype_header_only"), x_train=forged_npy((6, 3), dtype="|O"))
    npz_with(path("header_is_garbage"), x_train=b"\x93NUMPY\x01\x00\x10\x00{not a dict}    \n")
    empty = npy_bytes(np.zeros((6, 0), np.float32))
    npz_with(path("zero_feature_samples"), x_train=empty, x_test=empty)
    npz_with(path("complex_features"), x_train=npy_bytes(np.zeros((6, 3), np.complex64)))
    npz_with(path("boolean_features"), x_train=npy_bytes(np.zeros((6, 3), bool)))
    npz_with(path("string_labels"), y_train=npy_bytes(np.array(list("abcabc"))))
    path("npy_renamed_npz").write_bytes(npy_bytes(huge["x_train"]))
    valid = folder / "valid.npz"
    npz_with(valid)
    path("truncated_npz").write_bytes(valid.read_bytes()[: len(valid.read_bytes()) // 2])
    path("empty_file").write_bytes(b"")
    path("pickle_renamed_npz").write_bytes(pickle.dumps(WritesMarker(folder / "MARKER")))

    for name, replacement in {
        "idx_declares_1e15_bytes": gzip.compress(idx_header((10**5, 10**5, 10**5))),
        "idx_gz_promises_gigabytes": gzip.compress(idx_header((1500, 1000, 1000)) + bytes(1000)),
        "idx_gz_truncated": gzip.compress(idx_header((4, 28, 28)) + bytes(4 * 784))[:-12],
        "idx_gz_not_gzip": b"\x1f\x8b" + bytes(30),
        "idx_labels_huge": gzip.compress(idx_header((4,), 0x0C) + np.array([0, 1, 2, 2**31 - 1], ">i4").tobytes()),
        "idx_float_images_nan": gzip.compress(
            idx_header((4, 28, 28), 0x0D) + np.full(4 * 784, np.nan, ">f4").tobytes()
        ),
        "idx_255_dims": gzip.compress(bytes([0, 0, 0x08, 255]) + bytes(4 * 255)),
    }.items():
        target = "train-labels-idx1-ubyte.gz" if "labels" in name else "train-images-idx3-ubyte.gz"
        mnist_folder(folder / name, **{target: replacement})
        paths[name] = str(folder / name)
    return paths


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-data")
    paths = build_hostile_files(folder)
    probes = {name: f"result = bastion.load({path!r})" for name, path in paths.items()}
    # The command line, in the same interpreter: one line and exit code 2.
    out = str(folder / "model")
    probes["cli_train_on_a_forged_shape"] = (
        f"result = cli('train', '--data', {paths['declares_1e12_elements']!r}, '--out', {out!r}, '--no-progress')"
    )
    # The message lists the archive's member names, which the file's author chose.
    write_zip(folder / "markup.npz", {"[/]": b"", "[bold]x": b""})
    probes["cli_markup_in_member_names"] = (
        f"result = cli('train', '--data', {str(folder / 'markup.npz')!r}, '--out', {out!r}, '--no-progress')"
    )
    return run_probes(probes, folder)


PROBES = [
    "labels_with_one_huge_value",
    "labels_with_uint64_max",
    "declares_1e12_elements",
    "declares_more_than_it_holds",
    "bzip2_member",
    "lzma_member",
    "pickled_object_array",
    "object_dtype_header_only",
    "header_is_garbage",
    "zero_feature_samples",
    "complex_features",
    "boolean_features",
    "string_labels",
    "npy_renamed_npz",
    "truncated_npz",
    "empty_file",
    "pickle_renamed_npz",
    "idx_declares_1e15_bytes",
    "idx_gz_promises_gigabytes",
    "idx_gz_truncated",
    "idx_gz_not_gzip",
    "idx_labels_huge",
    "idx_float_images_nan",
    "idx_255_dims",
]


@pytest.mark.parametrize("name", PROBES)
def test_hostile_dataset_is_refused_with_a_bastion_error(outcomes, name):
    outcome = outcomes[name]
    assert outcome.kind == "bastion", f"{name}: {outcome.kind} {outcome.type}\n{outcome.message}"
    assert name.split("_")[0] in outcome.message or "/" in outcome.message  # names the file


@pytest.mark.parametrize("name", PROBES)
def test_hostile_dataset_stays_within_memory_and_time(outcomes, name):
    outcome = outcomes[name]
    assert outcome.seconds < PROBE_TIMEOUT_SECONDS, f"{name} took {outcome.seconds:.1f} s"
    assert outcome.max_rss_mib < 1024, f"{name} reached {outcome.max_rss_mib:.0f} MiB"


def test_huge_label_is_refused_without_counting_every_possible_label(outcomes):
    assert outcomes["labels_with_one_huge_value"].refused("ValidationError", "never occur")


def test_declared_shape_over_the_limit_names_the_flag_that_raises_it(outcomes):
    assert outcomes["declares_1e12_elements"].refused("ValidationError", "BASTION_MAX_BYTES")


def test_npy_renamed_npz_says_what_it_is(outcomes):
    assert outcomes["npy_renamed_npz"].refused("ValidationError", ".npy array renamed")


def test_cli_answers_a_hostile_dataset_with_one_line_and_exit_code_2(outcomes):
    assert_one_line_error(outcomes["cli_train_on_a_forged_shape"], "declares_1e12_elements.npz")


def test_cli_prints_markup_brackets_from_the_file_as_they_are(outcomes):
    assert_one_line_error(outcomes["cli_markup_in_member_names"], "'[/]', '[bold]x'")


def test_console_script_answers_with_one_line_and_exit_code_2(tmp_path):
    npz_with(tmp_path / "bomb.npz", x_train=forged_npy((10**6, 10**6)))
    result = run_cli(["train", "--data", tmp_path / "bomb.npz", "--out", tmp_path / "m", "--no-progress"], tmp_path)
    assert_one_line_error(result, "bomb.npz")
