"""TorchModel: white-box access to a torch module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from bastion.exceptions import InputTypeError, ValidationError
from bastion.models.agreement import check_batch
from bastion.models.base import GRADIENTS, LABELS, SCORES, BaseModel, check_answer, check_clip, check_input_shape
from bastion.models.channels_last import ChannelsLastRunner
from bastion.models.traced import MAX_TRACED_PARAMETERS, TracedInference
from bastion.validation import check_labels, check_scalar


def _as_broadcast(value: Any, name: str, input_shape: tuple[int, ...]) -> torch.Tensor:
    """Turn a scalar or per-channel statistic into a tensor broadcastable to a batch."""
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise InputTypeError(
            f"`preprocessing` {name} must be a number or per-channel numbers, got {value!r}"
        ) from error
    if array.ndim == 1 and len(input_shape) > 1:
        if array.shape[0] != input_shape[0]:
            raise ValidationError(
                f"`preprocessing` {name} must have one value per channel ({input_shape[0]}), got {array.shape[0]}"
            )
        array = array.reshape((-1,) + (1,) * (len(input_shape) - 1))
    try:
        np.broadcast_to(array, input_shape)
    except ValueError as error:
        raise ValidationError(
            f"`preprocessing` {name} of shape {array.shape} does not broadcast to input_shape {input_shape}"
        ) from error
    if not np.all(np.isfinite(array)):
        raise ValidationError(f"`preprocessing` {name} must be finite")
    return torch.from_numpy(array.copy())


def module_output_width(module: nn.Module, sample_shape: tuple[int, ...], name: str) -> int:
    """Run one zero sample of ``sample_shape`` through ``module``; return its number of logits.

    The module's train/eval mode is restored afterwards and no parameter changes.

    Args:
        module: a torch module mapping ``(n, *sample_shape)`` to logits ``(n, k)``.
        sample_shape: the shape of one input sample.
        name: the argument that set ``sample_shape``, for the message.

    Raises:
        ValidationError: the module cannot process such a sample, or does not answer ``(1, k)``.
    """
    parameter = next(module.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float32
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            output = module(torch.zeros((1, *sample_shape), device=device, dtype=dtype))
    except (RuntimeError, ValueError, IndexError, TypeError) as error:
        raise ValidationError(
            f"`{name}` gives samples of shape {tuple(sample_shape)}, which the module cannot process: {error}"
        ) from error
    finally:
        module.train(was_training)
    if not isinstance(output, torch.Tensor) or output.ndim != 2 or output.shape[0] != 1:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValidationError(
            f"the module must map `{name}`'s samples {tuple(sample_shape)} to logits (n, n_classes), "
            f"got {shape} for one sample"
        )
    return int(output.shape[1])


class TorchModel(BaseModel):
    """A torch classifier with white-box access.

    The module maps a float batch of shape ``(n, *input_shape)`` to logits ``(n, n_classes)``.
    It is put in eval mode once and never trained here: gradients are taken with respect to
    inputs only (``torch.autograd.grad``), so parameters never receive ``.grad``.

    Args:
        module: the classifier, returning logits.
        input_shape: shape of one sample, e.g. ``(1, 8, 8)``.
        n_classes: number of classes.
        clip: the valid input range ``(low, high)``, in the user's input space. Attacks keep
            adversarial examples inside it and measure eps in that space.
        preprocessing: optional ``(mean, std)`` (scalars or per-channel) folded into the model:
            the module sees ``(x - mean) / std``.
        batch_size: inputs per forward pass for the numpy methods; attacks that batch
            several runs per sample (APGD-T, FAB-T) keep their batches this size too.
        device: torch device the module lives on.
        channels_last: run the module with channels-last copies of its 4-D weights
            (:class:`~bastion.models.channels_last.ChannelsLastRunner`; the module itself is
            not changed), PyTorch's faster layout for CPU convolutions and pooling: about
            half the time per forward pass on the digits CNN. ``None`` (the default) turns it
            on for image inputs ``(c, h, w)`` on CPU when the module has 4-D weights and both
            layouts answer alike on a check input; ``True`` asks for it on any device (and
            raises if the module cannot run that way); ``False`` always calls the module as
            given.
        traced_inference: answer forward passes without gradients (``predict``, scores,
            the queries of black-box attacks) from a frozen trace of the module optimised
            for inference (:class:`~bastion.models.traced.TracedInference`), about 0.6x the
            time per pass on the digits CNN; gradient passes always call the module.
            ``None`` (the default) turns it on for image inputs ``(c, h, w)`` on CPU, where
            it is used only if the trace answers like the module on a check batch (else the
            module runs as given); ``True`` asks for it for any input (and raises if the
            module cannot be traced); ``False`` always calls the module.

    Raises:
        InputTypeError: ``module`` is not a torch module, or ``preprocessing`` not a pair.
        ValidationError: a bad shape, class count, clip, device or preprocessing; NaN or
            infinite weights; ``channels_last=True`` or ``traced_inference=True`` for a
            module that cannot run that way.

    Example:
        >>> model = TorchModel(zoo.small_cnn((1, 8, 8), 10), input_shape=(1, 8, 8), n_classes=10)
        >>> model.predict(x)
    """

    capabilities = frozenset({LABELS, SCORES, GRADIENTS})

    def __init__(
        self,
        module: nn.Module,
        *,
        input_shape: Sequence[int],
        n_classes: int,
        clip: tuple[float, float] = (0.0, 1.0),
        preprocessing: tuple[Any, Any] | None = None,
        batch_size: int = 256,
        device: str | torch.device = "cpu",
        channels_last: bool | None = None,
        traced_inference: bool | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise InputTypeError(f"`module` must be a torch.nn.Module, got {type(module).__name__}")
        self.input_shape = check_input_shape(input_shape)
        self.n_classes = check_scalar(n_classes, "n_classes", kind=int, low=2)
        self.clip = check_clip(clip)
        self.batch_size = check_scalar(batch_size, "batch_size", kind=int, low=1)
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise ValidationError(
                f"`device` must be a torch device such as 'cpu' or 'cuda:0', got {device!r}"
            ) from error
        self.module = module.to(self.device).eval()
        for name, tensor in self.module.state_dict().items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise ValidationError(
                    f"`module` holds NaN or infinite weights in {name!r}: the training that produced it diverged, "
                    "or its file is corrupt; every answer it gives would be meaningless"
                )
        width = module_output_width(self.module, self.input_shape, "input_shape")
        if width != self.n_classes:
            raise ValidationError(
                f"`n_classes` must match the module's {width} logits per sample, got {self.n_classes}"
            )
        self._runner = self._channels_last_runner(channels_last)
        self._traced = self._traced_inference(traced_inference)
        self.preprocessing = preprocessing
        if preprocessing is None:
            self._mean = self._std = None
        else:
            if not isinstance(preprocessing, (tuple, list)) or len(preprocessing) != 2:
                raise InputTypeError(f"`preprocessing` must be a (mean, std) pair, got {preprocessing!r}")
            self._mean = _as_broadcast(preprocessing[0], "mean", self.input_shape).to(self.device)
            self._std = _as_broadcast(preprocessing[1], "std", self.input_shape).to(self.device)
            if torch.any(self._std <= 0):
                raise ValidationError("`preprocessing` std must be positive")

    def logits_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable logits of a tensor batch (no validation; for attacks' inner loops).

        Counts ``len(x)`` queries. ``x`` must already be on ``self.device``.
        """
        self._count(x.shape[0])
        if self._mean is not None:
            x = (x - self._mean) / self._std
        if self._traced is not None:
            output = self._traced(x)
            if output is not None:
                return output
        return self.module(x) if self._runner is None else self._runner(x)

    @property
    def channels_last(self) -> bool:
        """Whether the module runs with channels-last copies of its weights."""
        return self._runner is not None

    def _wants(self, requested: bool | None) -> bool:
        """Whether a fast path asked for with ``requested`` is tried: ``None`` means images on CPU."""
        if requested is None:
            return len(self.input_shape) == 3 and self.device.type == "cpu"
        return bool(requested)

    def _channels_last_runner(self, requested: bool | None) -> ChannelsLastRunner | None:
        if not self._wants(requested):
            return None
        runner = ChannelsLastRunner(self.module)
        sample = check_batch(2, self.input_shape, *self.clip, self.device, seed=0)
        if runner.names and runner.agrees(sample):
            return runner
        if requested:
            raise ValidationError(
                "`channels_last` must be False or None for this module: "
                + (
                    "it has no 4-D weights (convolutions) to lay out"
                    if not runner.names
                    else "it fails or answers differently with channels-last copies of its weights"
                )
                + ", got True"
            )
        return None

    @property
    def traced_inference(self) -> bool:
        """Whether forward passes without gradients may come from a frozen trace of the module."""
        return self._traced is not None

    def _traced_inference(self, requested: bool | None) -> TracedInference | None:
        if not self._wants(requested):
            return None
        traced = TracedInference(self.module, self.input_shape, *self.clip, self.device)
        if requested and traced.graph() is None:
            raise ValidationError(
                "`traced_inference` must be False or None for this module: it cannot be traced, or its trace "
                "answers differently from the module (Python control flow on tensor values, or more than "
                f"{MAX_TRACED_PARAMETERS:,} parameters), got True"
            )
        return traced

    def to_tensor(self, x: np.ndarray) -> torch.Tensor:
        """A validated numpy batch as a float32 tensor on this model's device."""
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)

    @torch.no_grad()
    def _batched_logits(self, x: np.ndarray) -> np.ndarray:
        outputs = [
            self.logits_tensor(self.to_tensor(x[start : start + self.batch_size]))
            for start in range(0, len(x), self.batch_size)
        ]
        logits = torch.cat(outputs).float().cpu().numpy()
        return check_answer(logits, len(x), self.n_classes, type(self).__name__, kind="logits")

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits, ``(n, n_classes)`` float32; counts ``n`` queries."""
        return self._batched_logits(self.check_x(x))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Softmax probabilities, ``(n, n_classes)`` float32; counts ``n`` queries."""
        logits = torch.from_numpy(self.logits(x))
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Labels, ``(n,)`` int64; counts ``n`` queries."""
        return self.logits(x).argmax(axis=1).astype(np.int64)

    def loss_gradient(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gradient of the cross-entropy loss of each sample with respect to its input.

        Returns an array of ``x``'s shape; counts ``n`` queries.
        """
        x = self.check_x(x)
        y = check_labels(y, "y", n_samples=len(x), n_classes=self.n_classes)
        gradients = []
        # enable_grad: the caller may be inside a no_grad block; parameters still get no .grad.
        with torch.enable_grad():
            for start in range(0, len(x), self.batch_size):
                batch = self.to_tensor(x[start : start + self.batch_size]).requires_grad_(True)
                labels = torch.as_tensor(y[start : start + self.batch_size], device=self.device)
                loss = nn.functional.cross_entropy(self.logits_tensor(batch), labels, reduction="sum")
                (gradient,) = torch.autograd.grad(loss, batch)
                gradients.append(gradient)
        return torch.cat(gradients).cpu().numpy()

    def __repr__(self) -> str:
        return (
            f"TorchModel({type(self.module).__name__}, input_shape={self.input_shape}, "
            f"n_classes={self.n_classes}, clip={self.clip})"
        )
