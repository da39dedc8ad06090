"""Users' own ONNX classifiers as black-box Models, run by onnxruntime.

:class:`OnnxModel` runs a graph with onnxruntime and answers scores (or labels only); the
file is read through :func:`~bastion.models.onnx_graph.read_onnx`, which refuses external
data and custom operators. :meth:`OnnxModel.to_torch` gives the white-box view through the
interpreter of :mod:`bastion.models.onnx_torch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from bastion.exceptions import ValidationError
from bastion.models import onnx_graph
from bastion.models.base import LABELS, SCORES, BaseModel, check_answer_labels, check_clip, check_input_shape
from bastion.models.onnx_graph import producer_of, read_onnx, tensor_dims
from bastion.models.onnx_torch import LogProbabilities, onnx_to_torch
from bastion.models.torch import TorchModel
from bastion.validation import check_choice, check_scalar

OUTPUT_KINDS = ("auto", "logits", "probabilities", "labels")

# ONNX tensor element types bastion can feed and read (TensorProto codes).
_FLOAT_TYPES = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64}
_INTEGER_TYPES = {
    onnx.TensorProto.INT64,
    onnx.TensorProto.INT32,
    onnx.TensorProto.INT16,
    onnx.TensorProto.INT8,
    onnx.TensorProto.UINT8,
}


class OnnxModel(BaseModel):
    """An ONNX classifier run by onnxruntime, as a black-box Model.

    The graph must take one input, a batch ``(n, *input_shape)``, and its first output must
    be ``(n, n_classes)`` scores or ``(n,)`` labels. What the output holds is detected from
    the graph when ``outputs="auto"``: a final ``Softmax`` gives probabilities, an integer
    output gives labels (a label-only model), anything else is read as logits (the usual
    export of a torch classifier). For gradient attacks use :meth:`to_torch`.

    Args:
        model: path to an ``.onnx`` file, its bytes, or an ``onnx.ModelProto``.
        input_shape: shape of one sample; read from the graph when its dimensions are fixed.
        n_classes: number of classes; read from the graph's output when fixed.
        clip: the valid input range.
        outputs: ``"auto"``, ``"logits"``, ``"probabilities"`` or ``"labels"``.
        batch_size: inputs per onnxruntime call (a graph with a fixed batch size uses it).

    Raises:
        UnsafeFileError: external data or custom operators (see :func:`~bastion.models.onnx_graph.check_onnx_safety`).
        ValidationError: the graph does not look like a classifier, or shapes disagree.

    Example:
        >>> model = OnnxModel("classifier.onnx", clip=(0, 1))
        >>> model.predict_proba(x)
    """

    def __init__(
        self,
        model: str | Path | bytes | onnx.ModelProto,
        *,
        input_shape: Sequence[int] | None = None,
        n_classes: int | None = None,
        clip: tuple[float, float] = (0.0, 1.0),
        outputs: str = "auto",
        batch_size: int = 256,
    ) -> None:
        super().__init__()
        import onnxruntime

        self.proto = read_onnx(model)
        self.clip = check_clip(clip)
        outputs = check_choice(outputs, "outputs", OUTPUT_KINDS)
        self.batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
        graph_input = onnx_graph.graph_input(self.proto)
        self._input_name = graph_input.name
        input_type = graph_input.type.tensor_type.elem_type
        if input_type not in _FLOAT_TYPES:
            raise ValidationError(
                f"ONNX model input {graph_input.name!r} must be float32 or float64, "
                f"got {onnx.TensorProto.DataType.Name(input_type)}"
            )
        self._input_dtype = _FLOAT_TYPES[input_type]
        self.input_shape = self._resolve_input_shape(graph_input, input_shape)
        fixed_batch = tensor_dims(graph_input)[0] if tensor_dims(graph_input) else None
        if fixed_batch is not None:
            self.batch_size = fixed_batch
        self._fixed_batch = fixed_batch is not None
        output = self.proto.graph.output[0]
        self._output_name = output.name
        self.outputs = self._resolve_outputs(output, outputs)
        self.capabilities = frozenset({LABELS} if self.outputs == "labels" else {LABELS, SCORES})
        try:
            self._session = onnxruntime.InferenceSession(
                self.proto.SerializeToString(), providers=["CPUExecutionProvider"]
            )
        except Exception as error:
            raise ValidationError(f"onnxruntime cannot run this ONNX model: {error}") from error
        self.n_classes = self._resolve_n_classes(output, n_classes)

    def _resolve_input_shape(self, graph_input: onnx.ValueInfoProto, input_shape: Any) -> tuple[int, ...]:
        dims = tensor_dims(graph_input)
        if input_shape is None:
            if len(dims) < 2 or any(d is None for d in dims[1:]):
                raise ValidationError(
                    f"ONNX model input {graph_input.name!r} has shape {dims} with unknown sample dimensions; "
                    "pass `input_shape`"
                )
            return check_input_shape(tuple(dims[1:]))
        input_shape = check_input_shape(input_shape)
        if dims and (
            len(dims) != len(input_shape) + 1 or any(d is not None and d != s for d, s in zip(dims[1:], input_shape))
        ):
            raise ValidationError(
                f"`input_shape` {input_shape} does not match the ONNX input {graph_input.name!r} of shape {dims}"
            )
        return input_shape

    def _resolve_outputs(self, output: onnx.ValueInfoProto, outputs: str) -> str:
        if outputs != "auto":
            return outputs
        if output.type.tensor_type.elem_type in _INTEGER_TYPES:
            return "labels"
        producer = producer_of(self.proto, output.name)
        return "probabilities" if producer is not None and producer.op_type == "Softmax" else "logits"

    def _resolve_n_classes(self, output: onnx.ValueInfoProto, n_classes: Any) -> int:
        dims = tensor_dims(output)
        if n_classes is not None:
            n_classes = check_scalar(n_classes, "n_classes", kind=int, low=2)
            if self.outputs != "labels" and len(dims) == 2 and dims[1] is not None and dims[1] != n_classes:
                raise ValidationError(f"`n_classes` is {n_classes} but the ONNX output has {dims[1]} columns")
            return n_classes
        if self.outputs == "labels":
            raise ValidationError(
                "an ONNX model that outputs labels cannot tell its number of classes; pass `n_classes`"
            )
        if len(dims) == 2 and dims[1] is not None:
            return check_scalar(dims[1], "n_classes", kind=int, low=2)
        # The graph does not say: one probe on a blank sample does (not counted as a query).
        probe = self._run(np.full((1, *self.input_shape), self.clip[0], dtype=np.float32))
        if probe.ndim != 2:
            raise ValidationError(f"ONNX output must be (n, n_classes) scores, got shape {probe.shape}")
        return check_scalar(probe.shape[1], "n_classes", kind=int, low=2)

    def _run(self, x: np.ndarray) -> np.ndarray:
        pieces = []
        for start in range(0, len(x), self.batch_size):
            batch = x[start : start + self.batch_size].astype(self._input_dtype)
            real = len(batch)
            if self._fixed_batch and real < self.batch_size:
                # A graph exported with a fixed batch size: pad, then drop the padding.
                padding = np.repeat(batch[-1:], self.batch_size - real, axis=0)
                batch = np.concatenate([batch, padding])
            try:
                (result,) = self._session.run([self._output_name], {self._input_name: batch})
            except Exception as error:  # onnxruntime's own exception classes, raised from C++
                raise ValidationError(
                    f"onnxruntime failed to run the ONNX model on a batch of shape {batch.shape}: "
                    f"{type(error).__name__}: {error}"
                ) from error
            pieces.append(np.asarray(result)[:real])
        return np.concatenate(pieces)

    def _predict_proba(self, x: np.ndarray) -> np.ndarray:
        scores = self._run(x).astype(np.float64)
        if scores.shape != (len(x), self.n_classes):
            raise ValidationError(
                f"ONNX output must have shape (n, {self.n_classes}), got {scores.shape}; check `outputs`"
            )
        if self.outputs == "probabilities":
            return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)
        scores -= scores.max(axis=1, keepdims=True)
        exponentials = np.exp(scores)
        return (exponentials / exponentials.sum(axis=1, keepdims=True)).astype(np.float32)

    def _predict_labels(self, x: np.ndarray) -> np.ndarray:
        if self.outputs != "labels":
            return super()._predict_labels(x)
        return check_answer_labels(self._run(x), len(x), self.n_classes, "OnnxModel")

    def to_torch(self, *, batch_size: int = 256, device: str | torch.device = "cpu") -> TorchModel:
        """The same graph as a white-box :class:`~bastion.models.TorchModel` (see :func:`onnx_to_torch`).

        TorchModel wants logits: a final Softmax is dropped, and other probability outputs
        go through a log (the softmax of log-probabilities gives them back).
        """
        if self.outputs == "labels":
            raise ValidationError("an ONNX model that outputs labels has no logits to differentiate")
        module = onnx_to_torch(self.proto)
        if self.outputs == "probabilities" and not module.stripped_softmax:
            module = LogProbabilities(module)
        return TorchModel(
            module,
            input_shape=self.input_shape,
            n_classes=self.n_classes,
            clip=self.clip,
            batch_size=batch_size,
            device=device,
        )

    def __repr__(self) -> str:
        return f"OnnxModel(input_shape={self.input_shape}, n_classes={self.n_classes}, outputs={self.outputs!r})"
