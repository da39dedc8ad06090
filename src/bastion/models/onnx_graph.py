"""Reading an ONNX file safely, and the graph queries the two ONNX paths share.

:func:`read_onnx` refuses what an ONNX file could smuggle in beyond a graph of standard
operators: tensors stored in external files (paths chosen by the file's author) and
operators of custom domains (which need native code to run). Both
:class:`~bastion.models.OnnxModel` (onnxruntime) and
:func:`~bastion.models.onnx_to_torch` (the torch interpreter) read through it.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from bastion.exceptions import InputTypeError, UnsafeFileError, ValidationError

STANDARD_DOMAINS = ("", "ai.onnx")


def read_onnx(source: str | Path | bytes | onnx.ModelProto) -> onnx.ModelProto:
    """Read an ONNX model and check it is safe to run.

    Args:
        source: a path to an ``.onnx`` file, its bytes, or a loaded ``onnx.ModelProto``.

    Raises:
        ValidationError: the file is missing or not a valid ONNX model.
        UnsafeFileError: it stores tensors in external files, or uses operators of a
            custom domain.
    """
    if isinstance(source, onnx.ModelProto):
        model = source
    elif isinstance(source, bytes):
        try:
            model = onnx.load_from_string(source)
        except Exception as error:
            raise ValidationError(f"`model` bytes are not an ONNX model: {error}") from error
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValidationError(f"`path` must be an existing .onnx file, got {str(path)!r} (not found)")
        try:
            # Never follow external-data references: they name files chosen by the author.
            model = onnx.load(str(path), load_external_data=False)
        except Exception as error:
            raise ValidationError(f"{path}: not a readable ONNX model: {error}") from error
    else:
        raise InputTypeError(f"`model` must be a path, bytes or an onnx.ModelProto, got {type(source).__name__}")
    check_onnx_safety(model)
    return model


def _graphs(graph: onnx.GraphProto):
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(attribute.g)
            for sub in attribute.graphs:
                yield from _graphs(sub)


def check_onnx_safety(model: onnx.ModelProto) -> None:
    """Refuse external tensor data and operators outside the standard ONNX domain.

    Raises:
        UnsafeFileError: naming the offending tensor, or node and operator.
    """
    if model.functions:
        names = sorted({f"{f.domain}.{f.name}" for f in model.functions})
        raise UnsafeFileError(f"ONNX model defines custom functions {names}; bastion runs standard operators only")
    for graph in _graphs(model.graph):
        tensors = list(graph.initializer) + [
            attribute.t
            for node in graph.node
            for attribute in node.attribute
            if attribute.type == onnx.AttributeProto.TENSOR
        ]
        for tensor in tensors:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                raise UnsafeFileError(
                    f"ONNX tensor {tensor.name!r} stores its data in an external file; bastion refuses external "
                    "data (the file names paths of its author's choosing). Re-export with the weights embedded"
                )
        for node in graph.node:
            if node.domain not in STANDARD_DOMAINS:
                raise UnsafeFileError(
                    f"ONNX node {node.name or node.output[0]!r} uses operator {node.op_type!r} of custom domain "
                    f"{node.domain!r}; custom operators need native code, bastion runs standard ONNX operators only"
                )


def opset_version(model: onnx.ModelProto) -> int:
    """The standard-domain opset the graph was written for (1 when it names none)."""
    for entry in model.opset_import:
        if entry.domain in STANDARD_DOMAINS:
            return int(entry.version)
    return 1


def graph_input(model: onnx.ModelProto) -> onnx.ValueInfoProto:
    """The graph's one real input (a batch of samples).

    Raises:
        ValidationError: the graph takes no input or several.
    """
    # Old exporters list initializers among the inputs too; the real input is the rest.
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    if len(inputs) != 1:
        raise ValidationError(
            f"ONNX model must take exactly one input (a batch of samples), got {len(inputs)}: "
            f"{[value.name for value in inputs]}"
        )
    return inputs[0]


def tensor_dims(value: onnx.ValueInfoProto) -> list[int | None]:
    """The dimensions of a graph value, ``None`` where symbolic."""
    shape = value.type.tensor_type.shape
    return [dim.dim_value if dim.HasField("dim_value") else None for dim in shape.dim]


def producer_of(model: onnx.ModelProto, name: str) -> onnx.NodeProto | None:
    """The node that computes ``name``, looking through Identity nodes."""
    producers = {output: node for node in model.graph.node for output in node.output}
    node = producers.get(name)
    while node is not None and node.op_type == "Identity":
        node = producers.get(node.input[0])
    return node
