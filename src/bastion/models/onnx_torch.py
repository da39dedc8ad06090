"""The ONNX-to-torch interpreter: an ONNX classifier as a differentiable torch module.

:func:`onnx_to_torch` turns the graph of an MLP or CNN into a torch module evaluated node by
node with torch ops, so gradient attacks can wrap it in a :class:`~bastion.models.TorchModel`.
The graph's weights become buffers: they never receive gradients. It is written here
rather than taken from the package index because both converters there import torchvision,
which cannot load beside this torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn
from torch.nn import functional

from bastion.exceptions import ValidationError
from bastion.models.onnx_graph import describe, graph_input, opset_version, producer_of, read_onnx

_TORCH_DTYPES = {
    onnx.TensorProto.FLOAT: torch.float32,
    onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.FLOAT16: torch.float16,
    onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.INT32: torch.int32,
    onnx.TensorProto.INT16: torch.int16,
    onnx.TensorProto.INT8: torch.int8,
    onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.BOOL: torch.bool,
}


class LogProbabilities(nn.Module):
    """Wraps a module that outputs probabilities so that it outputs logits (their log)."""

    def __init__(self, probabilities: nn.Module) -> None:
        super().__init__()
        self.probabilities = probabilities

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self.probabilities(x).clamp_min(torch.finfo(torch.float32).tiny))


# One torch function per ONNX operator. Each takes (inputs, attributes, opset) and returns a tuple of outputs.

Op = Callable[[list[Any], dict[str, Any], int], tuple[Any, ...]]


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _ints(value: Any) -> list[int]:
    if isinstance(value, torch.Tensor):
        return [int(v) for v in value.reshape(-1).tolist()]
    return [int(v) for v in value]


def _gemm(inputs, attributes, opset):
    a, b = inputs[0], inputs[1]
    if attributes.get("transA", 0):
        a = a.transpose(0, 1)
    if attributes.get("transB", 0):
        b = b.transpose(0, 1)
    result = attributes.get("alpha", 1.0) * (a @ b)
    if len(inputs) > 2 and inputs[2] is not None:
        result = result + attributes.get("beta", 1.0) * inputs[2]
    return (result,)


def _divide(inputs, attributes, opset):
    a, b = inputs
    if not a.is_floating_point() and not b.is_floating_point():
        return (torch.div(a, b, rounding_mode="trunc"),)
    return (a / b,)


def _symmetric_padding(pads: list[int], spatial: int) -> tuple[list[int] | None, list[int]]:
    """ONNX pads ``[begin_1.., end_1..]`` as torch padding, or an explicit F.pad list."""
    begins, ends = pads[:spatial], pads[spatial:]
    if begins == ends:
        return None, begins
    explicit: list[int] = []
    for begin, end in zip(reversed(begins), reversed(ends)):
        explicit += [begin, end]
    return explicit, [0] * spatial


def _auto_pads(attributes: dict[str, Any], x: torch.Tensor, kernel: list[int], strides: list[int], dilations):
    """Pads for ``auto_pad`` SAME_UPPER / SAME_LOWER / VALID / NOTSET."""
    spatial = len(kernel)
    mode = attributes.get("auto_pad", b"NOTSET")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode in ("NOTSET", ""):
        return list(attributes.get("pads", [0] * 2 * spatial))
    if mode == "VALID":
        return [0] * 2 * spatial
    begins, ends = [], []
    for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if mode == "SAME_UPPER" else large)
        ends.append(large if mode == "SAME_UPPER" else small)
    return begins + ends


def _conv(inputs, attributes, opset):
    x, weight = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    spatial = weight.dim() - 2
    if spatial not in (1, 2, 3):
        raise ValidationError(f"Conv over {spatial} spatial dimensions is not supported")
    kernel = list(weight.shape[2:])
    strides = list(attributes.get("strides", [1] * spatial))
    dilations = list(attributes.get("dilations", [1] * spatial))
    explicit, padding = _symmetric_padding(_auto_pads(attributes, x, kernel, strides, dilations), spatial)
    if explicit is not None:
        x = functional.pad(x, explicit)
    convolve = (functional.conv1d, functional.conv2d, functional.conv3d)[spatial - 1]
    return (convolve(x, weight, bias, strides, padding, dilations, attributes.get("group", 1)),)


def _pool(kind: str) -> Op:
    def pool(inputs, attributes, opset):
        x = inputs[0]
        kernel = list(attributes["kernel_shape"])
        spatial = len(kernel)
        strides = list(attributes.get("strides", [1] * spatial))
        dilations = list(attributes.get("dilations", [1] * spatial))
        ceil_mode = bool(attributes.get("ceil_mode", 0))
        explicit, padding = _symmetric_padding(_auto_pads(attributes, x, kernel, strides, dilations), spatial)
        if kind == "max":
            if explicit is not None:
                x = functional.pad(x, explicit, value=-math.inf)
            pooling = (functional.max_pool1d, functional.max_pool2d, functional.max_pool3d)[spatial - 1]
            return (pooling(x, kernel, strides, padding, dilations, ceil_mode=ceil_mode),)
        if any(d != 1 for d in dilations):
            raise ValidationError("AveragePool with dilations is not supported")
        include_pad = bool(attributes.get("count_include_pad", 0))
        if explicit is not None:
            if not include_pad:
                raise ValidationError("AveragePool with asymmetric padding and count_include_pad=0 is not supported")
            x = functional.pad(x, explicit)
        pooling = (functional.avg_pool1d, functional.avg_pool2d, functional.avg_pool3d)[spatial - 1]
        return (pooling(x, kernel, strides, padding, ceil_mode=ceil_mode, count_include_pad=include_pad),)

    return pool


def _softmax(log: bool) -> Op:
    def softmax(inputs, attributes, opset):
        x = inputs[0]
        function = torch.log_softmax if log else torch.softmax
        if opset >= 13:
            return (function(x, dim=attributes.get("axis", -1)),)
        # Before opset 13, (Log)Softmax flattens the dimensions from `axis` on (default 1).
        axis = _axis(attributes.get("axis", 1), x.dim())
        flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
        return (function(flat, dim=1).reshape(x.shape),)

    return softmax


def _flatten(inputs, attributes, opset):
    x = inputs[0]
    axis = _axis(attributes.get("axis", 1), x.dim())
    return (x.reshape(int(np.prod(x.shape[:axis])), -1),)


def _reshape(inputs, attributes, opset):
    x, shape = inputs[0], _ints(inputs[1])
    if not attributes.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return (x.reshape(shape),)


def _transpose(inputs, attributes, opset):
    x = inputs[0]
    perm = attributes.get("perm", list(range(x.dim() - 1, -1, -1)))
    return (x.permute(*perm),)


def _batch_norm(inputs, attributes, opset):
    if attributes.get("training_mode", 0):
        raise ValidationError("BatchNormalization in training mode is not supported (export the model in eval mode)")
    x, scale, bias, mean, variance = inputs[:5]
    return (functional.batch_norm(x, mean, variance, scale, bias, training=False, eps=attributes.get("epsilon", 1e-5)),)


def _dropout(inputs, attributes, opset):
    # Inference: dropout is the identity; its optional mask output is all ones.
    return (inputs[0], torch.ones_like(inputs[0], dtype=torch.bool))


def _constant(inputs, attributes, opset):
    if "value" in attributes:
        return (torch.from_numpy(numpy_helper.to_array(attributes["value"]).copy()),)
    for key, dtype in (
        ("value_float", torch.float32),
        ("value_floats", torch.float32),
        ("value_int", torch.int64),
        ("value_ints", torch.int64),
    ):
        if key in attributes:
            return (torch.tensor(attributes[key], dtype=dtype),)
    raise ValidationError(f"Constant node with attributes {sorted(attributes)} is not supported")


def _shape(inputs, attributes, opset):
    shape = torch.tensor(list(inputs[0].shape), dtype=torch.int64, device=inputs[0].device)
    start = attributes.get("start", 0)
    end = attributes.get("end")
    return (shape[start:end],)


def _gather(inputs, attributes, opset):
    data, indices = inputs
    axis = _axis(attributes.get("axis", 0), data.dim())
    indices = indices.long()
    indices = torch.where(indices < 0, indices + data.shape[axis], indices)
    picked = data.index_select(axis, indices.reshape(-1))
    return (picked.reshape((*data.shape[:axis], *indices.shape, *data.shape[axis + 1 :])),)


def _concat(inputs, attributes, opset):
    return (torch.cat(list(inputs), dim=attributes["axis"]),)


def _squeeze_axes(inputs, attributes, opset) -> list[int] | None:
    if opset >= 13:
        return _ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else None
    return list(attributes["axes"]) if "axes" in attributes else None


def _unsqueeze(inputs, attributes, opset):
    x = inputs[0]
    axes = _squeeze_axes(inputs, attributes, opset)
    rank = x.dim() + len(axes)
    for axis in sorted(_axis(a, rank) for a in axes):
        x = x.unsqueeze(axis)
    return (x,)


def _squeeze(inputs, attributes, opset):
    x = inputs[0]
    axes = _squeeze_axes(inputs, attributes, opset)
    if axes is None:
        return (x.squeeze(),)
    return (x.squeeze(tuple(_axis(a, x.dim()) for a in axes)),)


def _cast(inputs, attributes, opset):
    to = attributes["to"]
    if to not in _TORCH_DTYPES:
        raise ValidationError(f"Cast to {onnx.TensorProto.DataType.Name(to)} is not supported")
    return (inputs[0].to(_TORCH_DTYPES[to]),)


def _clip(inputs, attributes, opset):
    x = inputs[0]
    if opset >= 11:
        low = inputs[1] if len(inputs) > 1 else None
        high = inputs[2] if len(inputs) > 2 else None
    else:
        low, high = attributes.get("min"), attributes.get("max")
    return (torch.clamp(x, low, high),)


def _unary(function: Callable[[torch.Tensor], torch.Tensor]) -> Op:
    return lambda inputs, attributes, opset: (function(inputs[0]),)


def _binary(function: Callable[[Any, Any], Any]) -> Op:
    return lambda inputs, attributes, opset: (function(inputs[0], inputs[1]),)


OPERATORS: dict[str, Op] = {
    "Gemm": _gemm,
    "MatMul": _binary(torch.matmul),
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "Div": _divide,
    "Relu": _unary(torch.relu),
    "LeakyRelu": lambda inputs, attributes, opset: (functional.leaky_relu(inputs[0], attributes.get("alpha", 0.01)),),
    "Sigmoid": _unary(torch.sigmoid),
    "Tanh": _unary(torch.tanh),
    "Softmax": _softmax(log=False),
    "LogSoftmax": _softmax(log=True),
    "Conv": _conv,
    "MaxPool": _pool("max"),
    "AveragePool": _pool("average"),
    "GlobalAveragePool": _unary(lambda x: x.mean(dim=tuple(range(2, x.dim())), keepdim=True)),
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "BatchNormalization": _batch_norm,
    "Identity": _unary(lambda x: x),
    "Dropout": _dropout,
    "Constant": _constant,
    "Shape": _shape,
    "Gather": _gather,
    "Concat": _concat,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Cast": _cast,
    "Clip": _clip,
}

# Outputs each operator can produce here (MaxPool's indices and BatchNorm's running
# statistics are training-time or rarely used outputs).
_MAX_OUTPUTS = {"Dropout": 2}


class OnnxGraphModule(nn.Module):
    """A torch module that evaluates an ONNX graph node by node with torch ops.

    Differentiable with respect to its input; the graph's initializers and constants are
    buffers, so they move with ``.to(device)`` and never receive gradients. Built by
    :func:`onnx_to_torch`.

    Attributes:
        input_name, output_name: the graph's input and the output this module returns.
        opset: the standard-domain opset the graph was written for.
        stripped_softmax: whether a final Softmax was dropped (the module returns logits).
    """

    def __init__(self, model: onnx.ModelProto, *, strip_softmax: bool = True) -> None:
        super().__init__()
        self.opset = opset_version(model)
        graph = model.graph
        self.input_name = graph_input(model).name
        self.output_name = graph.output[0].name
        nodes = list(graph.node)
        self.stripped_softmax = False
        if strip_softmax:
            nodes = self._strip_final_softmax(model, nodes)
        self._tensor_names: dict[str, str] = {}
        for index, tensor in enumerate(graph.initializer):
            self._add_tensor(tensor.name, numpy_helper.to_array(tensor), f"initializer_{index}")
        self._nodes: list[tuple[str, list[str], list[str], dict[str, Any]]] = []
        for index, node in enumerate(nodes):
            where = f"ONNX node {describe(node)!r}"
            if node.op_type not in OPERATORS:
                raise ValidationError(
                    f"{where} uses operator {node.op_type!r}, which bastion cannot convert to torch; "
                    f"supported: {', '.join(sorted(OPERATORS))}. Use OnnxModel for black-box attacks instead"
                )
            if len(node.output) > _MAX_OUTPUTS.get(node.op_type, 1):
                raise ValidationError(
                    f"{where}: operator {node.op_type!r} with {len(node.output)} outputs is not supported"
                )
            attributes = {attribute.name: onnx.helper.get_attribute_value(attribute) for attribute in node.attribute}
            if node.op_type == "Constant":
                # Constants are data, like initializers: evaluate once, keep as a buffer.
                (value,) = _constant([], attributes, self.opset)
                self._add_tensor(node.output[0], value.numpy(), f"constant_{index}")
                continue
            self._nodes.append((node.op_type, list(node.input), list(node.output), attributes))
        self._check_wiring()

    def _add_tensor(self, name: str, array: np.ndarray, attribute: str) -> None:
        array = np.array(array, copy=True)
        if np.issubdtype(array.dtype, np.floating):
            # TorchModel feeds float32: a float64 or float16 graph computes in float32 here.
            array = array.astype(np.float32)
        self.register_buffer(attribute, torch.from_numpy(array))
        self._tensor_names[name] = attribute

    def _strip_final_softmax(self, model: onnx.ModelProto, nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
        # A final Softmax's input are logits with the same softmax: TorchModel wants logits.
        producer = producer_of(model, self.output_name)
        if producer is None or producer.op_type != "Softmax":
            return nodes
        consumers = [node for node in nodes if set(node.input) & set(producer.output)]
        if any(node.op_type != "Identity" for node in consumers):
            return nodes
        self.output_name = producer.input[0]
        self.stripped_softmax = True
        return [node for node in nodes if node is not producer and node not in consumers]

    def _check_wiring(self) -> None:
        known = {self.input_name, "", *self._tensor_names}
        for op_type, inputs, outputs, _ in self._nodes:
            missing = [name for name in inputs if name not in known]
            if missing:
                raise ValidationError(f"ONNX node {op_type} reads {missing}, which nothing computes before it")
            known.update(outputs)
        if self.output_name not in known:
            raise ValidationError(f"ONNX output {self.output_name!r} is computed by no node")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, Any] = {name: getattr(self, attribute) for name, attribute in self._tensor_names.items()}
        values[self.input_name] = x
        values[""] = None
        for op_type, inputs, outputs, attributes in self._nodes:
            results = OPERATORS[op_type]([values[name] for name in inputs], attributes, self.opset)
            for name, result in zip(outputs, results):
                values[name] = result
        return values[self.output_name]


def onnx_to_torch(model: str | Path | bytes | onnx.ModelProto, *, strip_softmax: bool = True) -> OnnxGraphModule:
    """Convert an ONNX classifier (MLP or CNN) to a differentiable torch module.

    Supported operators: Gemm, MatMul, Add, Sub, Mul, Div, Relu, LeakyRelu, Sigmoid, Tanh,
    Softmax, LogSoftmax, Conv, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape,
    Transpose, BatchNormalization (inference), Identity, Dropout (inference), Constant,
    Shape, Gather, Concat, Unsqueeze, Squeeze, Cast, Clip.

    Args:
        model: path to an ``.onnx`` file, its bytes, or an ``onnx.ModelProto``.
        strip_softmax: drop a final Softmax so the module returns logits, as
            :class:`~bastion.models.TorchModel` expects (the probabilities are unchanged).

    Returns:
        An :class:`OnnxGraphModule` in eval mode; wrap it in a ``TorchModel``.

    Raises:
        UnsafeFileError: external data or custom operators.
        ValidationError: an operator or attribute this converter does not support, named
            with its node.
    """
    return OnnxGraphModule(read_onnx(model), strip_softmax=strip_softmax).eval()
