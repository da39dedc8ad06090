"""The scan corpus: malicious model files, one per technique, and clean files of every format.

Each malicious builder writes a file whose payload, were the file ever loaded, would only
create ``marker`` (a path in the test's temporary folder): ``touch marker`` through a shell,
or ``open(marker, "w")``. The files are written with ``pickle.dumps`` (which never calls a
payload) or assembled opcode by opcode; nothing here ever loads them. The benchmark
(``benchmarks/scan.py``) runs the other scanners over the same corpus.
"""

from __future__ import annotations

import functools
import io
import json
import os
import pickle
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from bastion.models import SklearnModel, TorchModel, zoo
from bastion.models import io as model_io


@dataclass(frozen=True)
class Case:
    """One corpus file: how to build it, and the check bastion must raise on it (None: clean)."""

    name: str
    build: Callable[[Path, Path], Path]
    check: str | None
    severity: str | None
    technique: str


def _command(marker: Path) -> str:
    return f"touch {marker}"


class _System:
    """Pickles as ``os.system("touch marker")``: ``pickle.dumps`` stores the call, never makes it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (_command(self.marker),)


class _Exec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


class _Nested:
    """Pickles as ``pickle.loads(<a pickle of os.system(...)>)``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pickle.loads, (pickle.dumps(_System(self.marker), protocol=2),)


class _Partial:
    """Pickles as ``functools.partial(os.system, "touch marker")()``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return functools.partial(os.system, _command(self.marker)), ()


# -- opcode assembly for the hand-crafted bypasses -------------------------------------------
def _text(value: str) -> bytes:
    data = value.encode()
    return (
        pickle.SHORT_BINUNICODE + bytes([len(data)]) + data
        if len(data) < 256
        else (pickle.BINUNICODE + struct.pack("<I", len(data)) + data)
    )


def _proto(version: int = 4) -> bytes:
    return pickle.PROTO + bytes([version])


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# -- malicious builders ----------------------------------------------------------------------
def reduce_protocol(protocol: int) -> Callable[[Path, Path], Path]:
    def build(folder: Path, marker: Path) -> Path:
        return _write(folder, f"model_p{protocol}.pkl", pickle.dumps(_System(marker), protocol=protocol))

    return build


def exec_payload(folder: Path, marker: Path) -> Path:
    return _write(folder, "exec.pkl", pickle.dumps(_Exec(marker), protocol=4))


def stack_global_memo(folder: Path, marker: Path) -> Path:
    """``os``/``system`` pushed and memoized early, fetched back with BINGET just before STACK_GLOBAL."""
    data = (
        _proto(4)
        + _text("os")
        + pickle.MEMOIZE
        + pickle.POP
        + _text("system")
        + pickle.MEMOIZE
        + pickle.POP
        + _text("decoy")
        + pickle.POP
        + pickle.BINGET
        + b"\x00"
        + pickle.BINGET
        + b"\x01"
        + pickle.STACK_GLOBAL
        + _text(_command(marker))
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP
    )
    return _write(folder, "memo.pkl", data)


def stack_global_detour(folder: Path, marker: Path) -> Path:
    """The strings reach STACK_GLOBAL through DUP/POP and MARK/POP_MARK detours."""
    data = (
        _proto(4)
        + _text("subprocess")
        + pickle.MARK
        + _text("noise")
        + pickle.POP_MARK
        + _text("check_call")
        + pickle.DUP
        + pickle.POP
        + pickle.STACK_GLOBAL
        + pickle.MARK
        + _text("sh")
        + _text("-c")
        + _text(_command(marker))
        + pickle.LIST
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP
    )
    return _write(folder, "detour.pkl", data)


def partial_chain(folder: Path, marker: Path) -> Path:
    return _write(folder, "partial.pkl", pickle.dumps(_Partial(marker), protocol=4))


def partial_explicit(folder: Path, marker: Path) -> Path:
    """``REDUCE(functools.partial, (os.system, cmd))`` then calling the result with no arguments."""
    data = (
        _proto(2)
        + pickle.GLOBAL
        + b"functools\npartial\n"
        + pickle.GLOBAL
        + b"os\nsystem\n"
        + _text(_command(marker))
        + pickle.TUPLE2
        + pickle.REDUCE
        + pickle.EMPTY_TUPLE
        + pickle.REDUCE
        + pickle.STOP
    )
    return _write(folder, "partial_explicit.pkl", data)


def getattr_chain(folder: Path, marker: Path) -> Path:
    """``getattr(__import__("os"), "system")("touch marker")``: no os global appears anywhere."""
    data = (
        _proto(2)
        + pickle.GLOBAL
        + b"builtins\ngetattr\n"
        + pickle.GLOBAL
        + b"builtins\n__import__\n"
        + _text("os")
        + pickle.TUPLE1
        + pickle.REDUCE
        + _text("system")
        + pickle.TUPLE2
        + pickle.REDUCE
        + _text(_command(marker))
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP
    )
    return _write(folder, "getattr.pkl", data)


def dotted_qualname(folder: Path, marker: Path) -> Path:
    """Protocol 4 resolves ``object.__subclasses__`` name by name, past an allow-listed ``builtins.object``."""
    data = (
        _proto(4)
        + _text("builtins")
        + _text("object.__subclasses__")
        + pickle.STACK_GLOBAL
        + pickle.EMPTY_TUPLE
        + pickle.REDUCE
        + pickle.STOP
    )
    return _write(folder, "qualname.pkl", data)


def nested_pickle(folder: Path, marker: Path) -> Path:
    return _write(folder, "nested.pkl", pickle.dumps(_Nested(marker), protocol=4))


def nested_torch_bytes(folder: Path, marker: Path) -> Path:
    """A clean-looking tensor rebuild whose storage bytes hold a malicious pickle."""
    inner = pickle.dumps(_System(marker), protocol=2)
    data = (
        _proto(2)
        + pickle.GLOBAL
        + b"torch.storage\n_load_from_bytes\n"
        + pickle.BINBYTES
        + struct.pack("<I", len(inner))
        + inner
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP
    )
    return _write(folder, "nested_storage.pkl", data)


def _torch_zip_records(state: dict | None = None) -> list[tuple[str, bytes]]:
    buffer = io.BytesIO()
    torch.save(state if state is not None else {"w": torch.zeros(3)}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _zip(path: Path, records: list[tuple[str, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are the point of one case
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            for name, data in records:
                archive.writestr(name, data)
    return path


def torch_zip_payload(folder: Path, marker: Path) -> Path:
    path = folder / "checkpoint.pt"
    torch.save({"w": torch.zeros(3), "config": _System(marker)}, path)
    return path


def torch_legacy_payload(folder: Path, marker: Path) -> Path:
    path = folder / "legacy.pth"
    torch.save({"w": torch.zeros(3), "config": _System(marker)}, path, _use_new_zipfile_serialization=False)
    return path


def _evil_records(marker: Path) -> list[tuple[str, bytes]]:
    evil = pickle.dumps(_System(marker), protocol=2)
    return [(name, evil if name.endswith("data.pkl") else data) for name, data in _torch_zip_records()]


def zip_duplicate_name(folder: Path, marker: Path) -> Path:
    """The malicious data.pkl first, a clean one with the same name last (what zipfile opens by name)."""
    clean = _torch_zip_records()
    evil = pickle.dumps(_System(marker), protocol=2)
    pkl = next(name for name, _ in clean if name.endswith("data.pkl"))
    return _zip(folder / "duplicate.pt", [(pkl, evil), *clean])


def _patch_flags(path: Path, member: str, *, flag: int = 0, local_name: str | None = None) -> Path:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    local = info.header_offset
    struct.pack_into("<H", data, local + 6, struct.unpack_from("<H", data, local + 6)[0] | flag)
    if local_name is not None:
        name = local_name.encode()
        assert len(name) == len(member.encode())
        data[local + 30 : local + 30 + len(name)] = name
    central = data.find(b"PK\x01\x02")
    while central != -1:
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + length] == member.encode():
            struct.pack_into("<H", data, central + 8, struct.unpack_from("<H", data, central + 8)[0] | flag)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    return path


def zip_encrypted_flag(folder: Path, marker: Path) -> Path:
    path = _zip(folder / "encrypted.pt", _evil_records(marker))
    member = next(name for name, _ in _evil_records(marker) if name.endswith("data.pkl"))
    return _patch_flags(path, member, flag=0x1)


def zip_name_mismatch(folder: Path, marker: Path) -> Path:
    """The local header calls data.pkl 'data.txt'; the directory (what torch reads) says data.pkl."""
    path = _zip(folder / "mismatch.pt", _evil_records(marker))
    member = next(name for name, _ in _evil_records(marker) if name.endswith("data.pkl"))
    return _patch_flags(path, member, local_name=member[: -len("pkl")] + "txt")


def zip_hidden_protocol0(folder: Path, marker: Path) -> Path:
    """A protocol-0 pickle (no magic bytes) in a member named like a config file."""
    records = _torch_zip_records()
    prefix = records[0][0].split("/", 1)[0]
    return _zip(folder / "hidden.pt", [*records, (f"{prefix}/extra/config", pickle.dumps(_System(marker), 0))])


def zip_traversal_name(folder: Path, marker: Path) -> Path:
    records = _torch_zip_records()
    return _zip(folder / "traversal.zip", [*records, ("../../payload.pkl", pickle.dumps(_System(marker), 2))])


def npy_object_array(folder: Path, marker: Path) -> Path:
    path = folder / "features.npy"
    np.save(path, np.array([_System(marker), 1], dtype=object), allow_pickle=True)
    return path


def npz_object_array(folder: Path, marker: Path) -> Path:
    path = folder / "arrays.npz"
    np.savez(path, weights=np.zeros(3), extra=np.array([_System(marker)], dtype=object))
    return path


def joblib_payload(folder: Path, marker: Path) -> Path:
    """A payload after raw array data and one inside an object array: joblib writes both between opcodes."""
    import joblib

    path = folder / "model.joblib"
    joblib.dump({"weights": np.arange(64.0), "extra": np.array([_System(marker)], dtype=object)}, path)
    return path


def broken_after_payload(folder: Path, marker: Path) -> Path:
    """The payload's REDUCE runs, then the stream breaks (no STOP): pickle.load still ran it."""
    data = pickle.dumps(_System(marker), protocol=2)[:-1] + b"\xff\xfe"
    return _write(folder, "broken.pkl", data)


def extension_code(folder: Path, marker: Path) -> Path:
    data = _proto(2) + pickle.EXT1 + b"\x2a" + _text(_command(marker)) + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP
    return _write(folder, "ext.pkl", data)


def _traced(path: Path) -> Path:
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(module, torch.zeros(1, 3)), str(path))
    return path


def _edit_code(path: Path, old: str, new: str) -> Path:
    with zipfile.ZipFile(path) as archive:
        records = [(info.filename, archive.read(info)) for info in archive.infolist()]
    edited = []
    for name, data in records:
        if name.endswith(".py") and old.encode() in data:
            data = data.replace(old.encode(), new.encode())
        edited.append((name, data))
    assert edited != records, f"no code file of {path} holds {old!r}"
    return _zip(path, edited)


def torchscript_custom_op(folder: Path, marker: Path) -> Path:
    path = _traced(folder / "scripted_custom.pt")
    return _edit_code(path, "torch.linear(input, weight, bias)", "ops.evil_ns.run(torch.linear(input, weight, bias))")


def torchscript_file_access(folder: Path, marker: Path) -> Path:
    path = _traced(folder / "scripted_file.pt")
    return _edit_code(
        path,
        "return torch.linear(input, weight, bias)",
        f"_3 = torch.from_file({str(marker)!r}, True, 3)\n    return torch.linear(input, weight, bias)",
    )


def _onnx_model(*, location: str | None = None, domain: str = "", raw: bytes | None = None) -> onnx.ModelProto:
    weight = helper.make_tensor("w", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    if raw is not None:
        weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3], raw_data=raw)
    if location is not None:
        weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3])
        weight.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", "12")):
            weight.external_data.add(key=key, value=value)
    node = helper.make_node("Mul" if not domain else "Run", ["x", "w"], ["y"], name="mul", domain=domain)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [weight],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=opsets)


def onnx_external_traversal(folder: Path, marker: Path) -> Path:
    return _write(folder, "model.onnx", _onnx_model(location="../../../../etc/passwd").SerializeToString())


def onnx_external_absolute(folder: Path, marker: Path) -> Path:
    return _write(folder, "absolute.onnx", _onnx_model(location="/etc/passwd").SerializeToString())


def onnx_custom_domain(folder: Path, marker: Path) -> Path:
    return _write(folder, "custom.onnx", _onnx_model(domain="com.evil").SerializeToString())


def onnx_size_mismatch(folder: Path, marker: Path) -> Path:
    return _write(folder, "sizes.onnx", _onnx_model(raw=b"\x00" * 40).SerializeToString())


def _safetensors(header: dict, data: bytes, *, claimed: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if claimed is None else claimed) + text + data


def safetensors_header_too_large(folder: Path, marker: Path) -> Path:
    header = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    return _write(folder, "big_header.safetensors", _safetensors(header, b"\x00" * 8, claimed=1 << 40))


def safetensors_overlap(folder: Path, marker: Path) -> Path:
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    return _write(folder, "overlap.safetensors", _safetensors(header, b"\x00" * 12))


def safetensors_out_of_bounds(folder: Path, marker: Path) -> Path:
    header = {"w": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}}
    return _write(folder, "oob.safetensors", _safetensors(header, b"\x00" * 16))


def safetensors_bad_json(folder: Path, marker: Path) -> Path:
    text = b'{"w": {"dtype": "F32", '
    return _write(folder, "bad.safetensors", struct.pack("<Q", len(text)) + text + b"\x00" * 8)


def skops_dangerous_type(folder: Path, marker: Path) -> Path:
    import skops.io

    path = folder / "estimator.skops"
    skops.io.dump({"callback": os.system}, path)
    return path


def folder_replaced_weights(folder: Path, marker: Path) -> Path:
    target = clean_zoo_folder(folder, marker)
    from safetensors.torch import load_file, save_file

    weights = target / model_io.WEIGHTS_FILE
    state = load_file(str(weights))
    save_file({name: tensor + 1 for name, tensor in state.items()}, str(weights))
    return target


# -- clean builders --------------------------------------------------------------------------
def _tiny_torch() -> TorchModel:
    module = zoo.mlp((1, 4, 4), 3, hidden=(8,), seed=0)
    return TorchModel(module, input_shape=(1, 4, 4), n_classes=3)


def clean_zoo_folder(folder: Path, marker: Path) -> Path:
    return model_io.save(_tiny_torch(), folder / "zoo_model")


def clean_skops_folder(folder: Path, marker: Path) -> Path:
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).random((30, 4))
    estimator = LogisticRegression(max_iter=200).fit(x, np.arange(30) % 3)
    return model_io.save(SklearnModel(estimator), folder / "sklearn_model")


def clean_onnx_file(folder: Path, marker: Path) -> Path:
    path = folder / "exported.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _tiny_torch().module.eval(),
            torch.zeros(1, 1, 4, 4),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["logits"],
        )
    return path


def clean_onnx_folder(folder: Path, marker: Path) -> Path:
    model = model_io.load(clean_onnx_file(folder, marker), input_shape=(1, 4, 4))
    return model_io.save(model, folder / "onnx_model")


def clean_torchscript(folder: Path, marker: Path) -> Path:
    return _traced(folder / "scripted.pt")


def clean_state_dict(folder: Path, marker: Path) -> Path:
    path = folder / "state_dict.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)).state_dict(), path)
    return path


def clean_legacy_state_dict(folder: Path, marker: Path) -> Path:
    path = folder / "legacy_state_dict.pth"
    torch.save(torch.nn.Linear(4, 3).state_dict(), path, _use_new_zipfile_serialization=False)
    return path


def clean_safetensors(folder: Path, marker: Path) -> Path:
    from safetensors.torch import save_file

    path = folder / "weights.safetensors"
    save_file({"a": torch.zeros(2, 3), "b": torch.ones(5, dtype=torch.int64)}, str(path))
    return path


def clean_numpy(folder: Path, marker: Path) -> Path:
    np.savez(folder / "arrays.npz", x=np.zeros((3, 2)), y=np.arange(4))
    return folder / "arrays.npz"


def clean_joblib_sklearn(folder: Path, marker: Path) -> Path:
    import joblib
    from sklearn.ensemble import RandomForestClassifier

    x = np.random.default_rng(0).random((40, 3))
    path = folder / "forest.joblib"
    joblib.dump(RandomForestClassifier(n_estimators=3, random_state=0).fit(x, np.arange(40) % 2), path)
    return path


def clean_pickled_arrays(folder: Path, marker: Path) -> Path:
    data = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "names": ["a", "b"], "t": torch.ones(2)}
    return _write(folder, "arrays.pkl", pickle.dumps(data, protocol=4))


MALICIOUS = [
    *(
        Case(
            f"reduce_os_system_protocol_{p}",
            reduce_protocol(p),
            "pickle.dangerous-call",
            "critical",
            f"`__reduce__` to `os.system`, pickle protocol {p}",
        )
        for p in range(6)
    ),
    Case("builtins_exec", exec_payload, "pickle.dangerous-call", "critical", "`__reduce__` to `builtins.exec`"),
    Case(
        "stack_global_memo",
        stack_global_memo,
        "pickle.dangerous-call",
        "critical",
        "`STACK_GLOBAL` from memoized strings (`BINGET`)",
    ),
    Case(
        "stack_global_detour",
        stack_global_detour,
        "pickle.dangerous-call",
        "critical",
        "`STACK_GLOBAL` through `DUP`/`POP` and `MARK`/`POP_MARK` detours",
    ),
    Case(
        "functools_partial",
        partial_chain,
        "pickle.dangerous-call",
        "critical",
        "`__reduce__` chain through a pickled `functools.partial`",
    ),
    Case(
        "functools_partial_explicit",
        partial_explicit,
        "pickle.dangerous-call",
        "critical",
        "`REDUCE(functools.partial(os.system, cmd))`, then a call with no arguments",
    ),
    Case(
        "getattr_import_chain",
        getattr_chain,
        "pickle.dangerous-call",
        "critical",
        "`getattr(__import__('os'), 'system')`: no `os` global in the stream",
    ),
    Case(
        "dotted_qualname",
        dotted_qualname,
        "pickle.dangerous-call",
        "high",
        "`STACK_GLOBAL` of the dotted name `object.__subclasses__` (an allowed class's attribute)",
    ),
    Case("nested_pickle", nested_pickle, "pickle.dangerous-call", "critical", "`pickle.loads` of a nested pickle"),
    Case(
        "nested_in_storage_bytes",
        nested_torch_bytes,
        "pickle.dangerous-call",
        "critical",
        "nested pickle in `torch.storage._load_from_bytes` bytes",
    ),
    Case(
        "torch_zip_payload",
        torch_zip_payload,
        "pickle.dangerous-call",
        "critical",
        "`torch.save` checkpoint with a payload object",
    ),
    Case(
        "torch_legacy_payload",
        torch_legacy_payload,
        "pickle.dangerous-call",
        "critical",
        "legacy (non-zip) `torch.save` with a payload",
    ),
    Case(
        "zip_duplicate_name",
        zip_duplicate_name,
        "zip.duplicate-name",
        "high",
        "zip: malicious `data.pkl` shadowed by a clean duplicate name",
    ),
    Case(
        "zip_encrypted_flag",
        zip_encrypted_flag,
        "zip.encrypted-flag",
        "high",
        "zip: `data.pkl` flagged encrypted (zipfile refuses, torch reads)",
    ),
    Case(
        "zip_name_mismatch",
        zip_name_mismatch,
        "zip.name-mismatch",
        "high",
        "zip: local header name differs from the directory's",
    ),
    Case(
        "zip_hidden_protocol0",
        zip_hidden_protocol0,
        "zip.hidden-pickle",
        "medium",
        "zip: protocol-0 pickle (no magic) under a non-pickle name",
    ),
    Case(
        "zip_traversal_name", zip_traversal_name, "zip.unsafe-name", "medium", "zip: member named `../../payload.pkl`"
    ),
    Case(
        "npy_object_array", npy_object_array, "pickle.dangerous-call", "critical", "`.npy` object array with a payload"
    ),
    Case("npz_object_array", npz_object_array, "pickle.dangerous-call", "critical", "`.npz` holding that `.npy`"),
    Case(
        "joblib_payload",
        joblib_payload,
        "pickle.dangerous-call",
        "critical",
        "joblib file: payload in an object array, between raw array bytes",
    ),
    Case(
        "broken_after_payload",
        broken_after_payload,
        "pickle.dangerous-call",
        "critical",
        "payload then a malformed tail (no STOP)",
    ),
    Case(
        "extension_code", extension_code, "pickle.extension-code", "high", "`EXT1` opcode (copyreg extension registry)"
    ),
    Case(
        "torchscript_custom_op",
        torchscript_custom_op,
        "torchscript.custom-op",
        "high",
        "TorchScript calling an operator of an unknown namespace",
    ),
    Case(
        "torchscript_file_access",
        torchscript_file_access,
        "torchscript.file-access",
        "high",
        "TorchScript calling `torch.from_file`",
    ),
    Case(
        "onnx_external_traversal",
        onnx_external_traversal,
        "onnx.external-path",
        "high",
        "ONNX external data at `../../etc/passwd`",
    ),
    Case(
        "onnx_external_absolute",
        onnx_external_absolute,
        "onnx.external-path",
        "high",
        "ONNX external data at `/etc/passwd`",
    ),
    Case("onnx_custom_domain", onnx_custom_domain, "onnx.custom-op", "high", "ONNX operator of a custom domain"),
    Case(
        "onnx_size_mismatch",
        onnx_size_mismatch,
        "onnx.tensor-size",
        "high",
        "ONNX initializer bytes disagree with its shape",
    ),
    Case(
        "safetensors_header_too_large",
        safetensors_header_too_large,
        "safetensors.header-size",
        "high",
        "safetensors header larger than the file",
    ),
    Case("safetensors_overlap", safetensors_overlap, "safetensors.overlap", "high", "safetensors overlapping offsets"),
    Case(
        "safetensors_out_of_bounds",
        safetensors_out_of_bounds,
        "safetensors.bad-tensor",
        "high",
        "safetensors offsets past the end",
    ),
    Case(
        "safetensors_bad_json",
        safetensors_bad_json,
        "safetensors.bad-header",
        "high",
        "safetensors header that does not parse",
    ),
    Case(
        "skops_dangerous_type",
        skops_dangerous_type,
        "skops.untrusted-type",
        "critical",
        "skops archive needing `os.system` trusted",
    ),
    Case(
        "folder_replaced_weights",
        folder_replaced_weights,
        "folder.sha256-mismatch",
        "high",
        "bastion folder whose weights changed after saving",
    ),
]

CLEAN = [
    Case("zoo_safetensors_folder", clean_zoo_folder, None, None, "`bastion.models.io.save` of a zoo MLP"),
    Case("skops_folder", clean_skops_folder, None, None, "`bastion.models.io.save` of a LogisticRegression"),
    Case("onnx_file", clean_onnx_file, None, None, "`torch.onnx.export` of a zoo MLP"),
    Case("onnx_folder", clean_onnx_folder, None, None, "`bastion.models.io.save` of an OnnxModel"),
    Case("torchscript", clean_torchscript, None, None, "`torch.jit.save` of a traced module"),
    Case("torch_state_dict", clean_state_dict, None, None, "`torch.save(model.state_dict())`"),
    Case("torch_legacy_state_dict", clean_legacy_state_dict, None, None, "legacy `torch.save` of a state dict"),
    Case("safetensors_file", clean_safetensors, None, None, "`safetensors.torch.save_file`"),
    Case("numpy_npz", clean_numpy, None, None, "`numpy.savez` of numeric arrays"),
    Case("joblib_sklearn", clean_joblib_sklearn, None, None, "`joblib.dump` of a random forest"),
    Case("pickled_arrays", clean_pickled_arrays, None, None, "pickle of numpy arrays, a list and a tensor"),
]
