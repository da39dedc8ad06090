"""Reading an ONNX file safely, and the graph queries the two ONNX paths share.

:func:`read_onnx` refuses what an ONNX file could smuggle in beyond a graph of standard
operators: tensors stored in external files (paths chosen by the file's author) and
operators of custom domains (which need native code to run). Both
:class:`~bastion.models.OnnxModel` (onnxruntime) and
:func:`~bastion.models.onnx_to_torch` (the torch interpreter) read through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import onnx
from onnx import numpy_helper

from bastion.exceptions import InputTypeError, UnsafeFileError, ValidationError
from bastion.limits import check_allocation, limits

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


def describe(node: onnx.NodeProto) -> str:
    """A node's name for messages: its name, else its first output, else its operator."""
    return node.name or (node.output[0] if node.output else node.op_type)


def all_graphs(model: onnx.ModelProto) -> Iterator[onnx.GraphProto]:
    """Every graph of the model: the main one, training-info graphs, and every subgraph of
    every node attribute (whatever the attribute's declared type), without recursion."""
    pending = [model.graph]
    for info in model.training_info:
        pending += [info.initialization, info.algorithm]
    while pending:
        graph = pending.pop()
        yield graph
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    pending.append(attribute.g)
                pending.extend(attribute.graphs)


def _sparse_parts(sparse: onnx.SparseTensorProto) -> list[onnx.TensorProto]:
    return [sparse.values, sparse.indices]


def all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every TensorProto the model holds: initializers, sparse initializers, and the tensor,
    tensor-list, sparse-tensor and sparse-tensor-list fields of every attribute, in every graph.

    Fields are read whatever the attribute's declared type: a runtime that reads by field
    must not find a tensor the check skipped.
    """
    for graph in all_graphs(model):
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield from _sparse_parts(sparse)
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.HasField("t"):
                    yield attribute.t
                yield from attribute.tensors
                if attribute.HasField("sparse_tensor"):
                    yield from _sparse_parts(attribute.sparse_tensor)
                for sparse in attribute.sparse_tensors:
                    yield from _sparse_parts(sparse)


def _declared_dims(model: onnx.ModelProto) -> Iterator[tuple[str, list[int], int]]:
    """``(name, dims, element type)`` of every tensor whose size the file declares."""
    for graph in all_graphs(model):
        for sparse in graph.sparse_initializer:
            # A sparse tensor declares the dense shape a runtime materialises.
            yield sparse.values.name, list(sparse.dims), sparse.values.data_type
        for node in graph.node:
            for attribute in node.attribute:
                sparses = list(attribute.sparse_tensors)
                if attribute.HasField("sparse_tensor"):
                    sparses.append(attribute.sparse_tensor)
                for sparse in sparses:
                    yield f"{node.op_type} {attribute.name}", list(sparse.dims), sparse.values.data_type
    for tensor in all_tensors(model):
        yield tensor.name, list(tensor.dims), tensor.data_type


def _itemsize(element_type: int) -> int:
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(element_type).itemsize
    except (KeyError, TypeError, ValueError):
        return 8


def _constant_ints(graphs: list[onnx.GraphProto], name: str) -> list[int] | None:
    """The integer values of ``name`` if an initializer or a Constant node of ``graphs`` fixes them."""
    for graph in graphs:
        for tensor in graph.initializer:
            if tensor.name == name:
                return [int(v) for v in numpy_helper.to_array(tensor).reshape(-1)]
        for node in graph.node:
            if node.op_type == "Constant" and name in node.output:
                for attribute in node.attribute:
                    if attribute.name == "value" and attribute.HasField("t"):
                        return [int(v) for v in numpy_helper.to_array(attribute.t).reshape(-1)]
                    if attribute.name in ("value_int", "value_ints"):
                        return [int(attribute.i)] if attribute.name == "value_int" else [int(v) for v in attribute.ints]
    return None


def _check_loops(model: onnx.ModelProto) -> None:
    """Refuse a Loop whose trip count is not a constant within ``max_loop_iterations``."""
    most = limits().max_loop_iterations
    pending = [(model.graph, [model.graph])]
    while pending:
        graph, scope = pending.pop()
        for node in graph.node:
            for attribute in node.attribute:
                for sub in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                    pending.append((sub, [sub, *scope]))
            if node.op_type != "Loop":
                continue
            where = f"ONNX Loop node {describe(node)!r}"
            trip = node.input[0] if node.input else ""
            values = _constant_ints(scope, trip) if trip else None
            if values is None or len(values) != 1:
                raise ValidationError(
                    f"{where} has no constant trip count; bastion runs Loops of at most {most} iterations "
                    "fixed in the file (raise with bastion.limits.set_limits(max_loop_iterations=...))"
                )
            if not 0 <= values[0] <= most:
                raise ValidationError(
                    f"{where} declares {values[0]} iterations, over bastion's limit of {most} "
                    "(raise with bastion.limits.set_limits(max_loop_iterations=...))"
                )


def _check_sizes(model: onnx.ModelProto) -> None:
    """Refuse a graph that declares, or whose shape inference derives, a tensor over the limits.

    ONNX shape inference with data propagation folds constant shapes through ``Shape``,
    ``Concat``, ``Mul``, ... so ``ConstantOfShape``, ``Expand``, ``Tile``, ``Range`` and the
    like of constant sizes are caught before onnxruntime allocates them. Symbolic dimensions
    (the batch) are set to 1 first, so sizes computed from the input's shape fold too; a
    batch of ``b`` samples then needs at most about ``b`` times what one sample needs.
    """
    for name, dims, element_type in _declared_dims(model):
        check_allocation([max(d, 0) for d in dims], _itemsize(element_type), f"ONNX tensor {name!r}")
    concrete = onnx.ModelProto()
    concrete.CopyFrom(model)
    for value in concrete.graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                # One sample: shapes computed from the input's shape (Shape, Mul, ...) then fold too.
                dim.dim_value = 1
    try:
        inferred = onnx.shape_inference.infer_shapes(concrete, data_prop=True)
    except Exception as error:  # onnx raises its own InferenceError and C++ errors
        raise ValidationError(f"ONNX shape inference fails on this graph: {error}") from error
    graph = inferred.graph
    for value in [*graph.value_info, *graph.output]:
        tensor_type = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in tensor_type.shape.dim]
        check_allocation(dims, _itemsize(tensor_type.elem_type), f"ONNX value {value.name!r}")


def check_onnx_safety(model: onnx.ModelProto) -> None:
    """Refuse what an ONNX graph could do beyond computing a bounded function of its input.

    - external data, in any TensorProto anywhere (see :func:`all_tensors`);
    - custom functions and operators of custom domains, in any graph;
    - a ``Loop`` without a constant trip count within ``bastion.limits``;
    - a tensor that the file declares, or that shape inference derives, over ``max_bytes``.

    Raises:
        UnsafeFileError: external data or custom operators, naming the tensor or node.
        ValidationError: an unbounded Loop or an oversized tensor.
    """
    if model.functions:
        names = sorted({f"{f.domain}.{f.name}" for f in model.functions})
        raise UnsafeFileError(f"ONNX model defines custom functions {names}; bastion runs standard operators only")
    for tensor in all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise UnsafeFileError(
                f"ONNX tensor {tensor.name!r} stores its data in an external file; bastion refuses external "
                "data (the file names paths of its author's choosing). Re-export with the weights embedded"
            )
    for graph in all_graphs(model):
        for node in graph.node:
            if node.domain not in STANDARD_DOMAINS:
                raise UnsafeFileError(
                    f"ONNX node {describe(node)!r} uses operator "
                    f"{node.op_type!r} of custom domain {node.domain!r}; custom operators need native code, "
                    "bastion runs standard ONNX operators only"
                )
    try:
        # Operator arity, types and wiring against the ONNX schemas: the interpreter and the
        # checks above may then index a node's inputs and outputs.
        onnx.checker.check_model(model)
    except Exception as error:  # onnx's ValidationError and C++ errors
        raise ValidationError(f"not a valid ONNX model: {' '.join(str(error).split())}") from error
    _check_loops(model)
    _check_sizes(model)


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
