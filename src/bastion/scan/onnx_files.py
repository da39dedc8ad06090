"""ONNX files: external-data paths, custom operator domains, tensor sizes and the opset.

An ONNX file is a protobuf graph; parsing it runs nothing. What it can smuggle: tensors whose
data lives in external files at paths of the author's choosing (absolute paths or ``..``
read any file the loading user can read, into a tensor the model then reveals), operators
of custom domains (native code from a library the runtime must load), initializers whose
bytes disagree with their shape, and bytes the graph does not account for. The file is
parsed with external data left unloaded.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from bastion.models.onnx_graph import STANDARD_DOMAINS, all_graphs, all_tensors
from bastion.scan.collector import Collector
from bastion.scan.findings import Finding

KNOWN_DOMAINS = (*STANDARD_DOMAINS, "ai.onnx.ml", "ai.onnx.preview.training")
"""Operator domains the ONNX standard defines (onnxruntime implements them natively)."""

_INSTEAD = "re-export the model with the weights embedded and standard operators only (torch.onnx.export)"
_SUB_BYTE = {onnx.TensorProto.INT4: 4, onnx.TensorProto.UINT4: 4}


def _finding(severity: str, check: str, what: str, member: str, node: str = "") -> Finding:
    return Finding(severity, check, what, member=member, node=node, instead=_INSTEAD)


def _nodes(model: onnx.ModelProto):
    for graph in all_graphs(model):
        yield from graph.node
    for function in model.functions:
        yield from function.node


def scan_onnx(data: bytes, member: str, collector: Collector, *, folder: Path | None, size_bytes: int) -> None:
    """Check one ONNX model (its bytes; ``folder`` resolves external data, None inside archives)."""
    collector.check("onnx graph")
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as error:
        collector.add(_finding("high", "onnx.bad-proto", f"the file does not parse as an ONNX model ({error})", member))
        return
    opsets = {entry.domain or "ai.onnx": entry.version for entry in model.opset_import}
    collector.member(
        f"{member or '(file)'}: ONNX ir_version {model.ir_version}, opsets "
        f"{', '.join(f'{d} {v}' for d, v in sorted(opsets.items())) or 'none'}, {len(model.graph.node)} nodes"
    )
    _check_opset(opsets, member, collector)
    _check_domains(model, member, collector)
    _check_tensors(model, member, collector, folder)
    if model.ByteSize() != size_bytes:
        collector.add(
            _finding(
                "medium",
                "onnx.size-mismatch",
                f"the file has {size_bytes} bytes but the graph accounts for "
                f"{model.ByteSize()}: bytes outside the graph (appended or hidden data)",
                member,
            )
        )


def _check_opset(opsets: dict[str, int], member: str, collector: Collector) -> None:
    standard = opsets.get("ai.onnx")
    if standard is None:
        collector.add(_finding("medium", "onnx.opset", "the model imports no standard ONNX opset", member))
    elif standard > onnx.defs.onnx_opset_version():
        collector.add(
            _finding(
                "medium",
                "onnx.opset",
                f"opset {standard} is newer than the installed onnx knows "
                f"({onnx.defs.onnx_opset_version()}): its operators cannot be checked",
                member,
            )
        )


def _check_domains(model: onnx.ModelProto, member: str, collector: Collector) -> None:
    local = {function.domain for function in model.functions}
    for node in _nodes(model):
        if node.domain in KNOWN_DOMAINS or node.domain in local:
            continue
        name = node.name or (node.output[0] if node.output else node.op_type)
        collector.add(
            _finding(
                "high",
                "onnx.custom-op",
                f"node {name!r} runs operator {node.op_type!r} of custom domain "
                f"{node.domain!r}: native code from a library the runtime must load",
                member,
                name,
            )
        )


def _expected_bytes(tensor: onnx.TensorProto) -> int | None:
    count = math.prod(tensor.dims)
    if tensor.data_type in _SUB_BYTE:
        return math.ceil(count * _SUB_BYTE[tensor.data_type] / 8)
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
    except (KeyError, ValueError, TypeError):
        return None
    return None if dtype.kind in "OSU" else count * dtype.itemsize


def _check_tensors(model: onnx.ModelProto, member: str, collector: Collector, folder: Path | None) -> None:
    for tensor in all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            _check_external(tensor, member, collector, folder)
            continue
        expected = _expected_bytes(tensor)
        if tensor.raw_data and expected is not None and len(tensor.raw_data) != expected:
            collector.add(
                _finding(
                    "high",
                    "onnx.tensor-size",
                    f"tensor {tensor.name!r} holds {len(tensor.raw_data)} bytes but "
                    f"its shape {list(tensor.dims)} needs {expected}: runtimes read past it or reject it",
                    member,
                    tensor.name,
                )
            )


def _check_external(tensor: onnx.TensorProto, member: str, collector: Collector, folder: Path | None) -> None:
    fields = {entry.key: entry.value for entry in tensor.external_data}
    location = fields.get("location", "")
    collector.member(f"{member or '(file)'}: tensor {tensor.name!r} stored in external file {location!r}")
    parts = location.replace("\\", "/").split("/")
    if (
        not location
        or os.path.isabs(location)
        or location.startswith(("/", "\\"))
        or ".." in parts
        or (len(location) > 1 and location[1] == ":")
    ):
        collector.add(
            _finding(
                "high",
                "onnx.external-path",
                f"tensor {tensor.name!r} reads its data from {location!r}, "
                "outside the model's folder: loading it reads that file into the model",
                member,
                tensor.name,
            )
        )
        return
    if folder is None:
        return
    target = (folder / location).resolve()
    if not target.is_relative_to(folder.resolve()):
        collector.add(
            _finding(
                "high",
                "onnx.external-path",
                f"tensor {tensor.name!r} reads {location!r}, a link that leaves the model's folder",
                member,
                tensor.name,
            )
        )
    elif not target.is_file():
        collector.add(
            _finding(
                "medium",
                "onnx.external-missing",
                f"tensor {tensor.name!r} reads {location!r}, which is missing",
                member,
                tensor.name,
            )
        )
    else:
        try:
            end = int(fields.get("offset", 0) or 0) + int(fields.get("length", 0) or 0)
        except ValueError:
            end = -1
        if end < 0 or end > target.stat().st_size:
            collector.add(
                _finding(
                    "medium",
                    "onnx.external-size",
                    f"tensor {tensor.name!r} reads up to byte {end} of {location!r}, which is shorter",
                    member,
                    tensor.name,
                )
            )
