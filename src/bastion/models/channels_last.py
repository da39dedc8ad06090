"""Run a convolutional module in channels-last memory format without changing it."""

from __future__ import annotations

import torch
from torch import nn

from bastion.models.agreement import answers_alike


def _in_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` with channels-last strides, so that the first convolution runs channels-last too.

    One channel is the case that needs care: there NCHW and NHWC are the same memory order,
    ``contiguous(memory_format=channels_last)`` returns the tensor as it is, and PyTorch then
    reads its NCHW strides as NCHW, so the first layer's output comes out NCHW and every
    later channels-last layer copies it. A view with channels-last strides costs nothing.
    """
    if x.dim() != 4:
        return x
    if x.shape[1] == 1 and x.is_contiguous():
        n, _, height, width = x.shape
        return x.reshape(n, height, width, 1).permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last)


def _to_channels_last(gradient: torch.Tensor) -> torch.Tensor:
    return gradient.contiguous(memory_format=torch.channels_last)


def _pooled_gradient_in_channels_last(_layer: nn.Module, _inputs: object, output: object) -> None:
    """Forward hook: the gradient of a 4-D pooled ``output`` reaches the backward pass channels-last."""
    if isinstance(output, torch.Tensor) and output.dim() == 4 and output.requires_grad:
        output.register_hook(_to_channels_last)


class ChannelsLastRunner:
    """Calls ``module`` with channels-last copies of its 4-D parameters.

    PyTorch's CPU convolutions and pooling are markedly faster on channels-last (NHWC)
    tensors than on the default NCHW layout: on the digits ``small_cnn`` a forward pass
    takes about half the time, because max-pooling an NCHW tensor is slow on CPU. Converting
    the user's module in place (``module.to(memory_format=torch.channels_last)``) would
    change an object bastion does not own: its weights would stop being contiguous, which
    ``safetensors`` refuses to save and ``.view`` refuses to reshape. This runner leaves the
    module untouched: for the duration of each call it puts channels-last copies of its 4-D
    parameters in their places (what :func:`torch.func.functional_call` does, without that
    function's per-call cost of about 0.3 ms, a fifth of a digits forward pass) and puts the
    parameters back afterwards, so the module's own ``forward``, hooks, train/eval mode and
    buffers are used as they are.

    The copies are detached (no gradient reaches the parameters; input gradients flow as
    usual) and refreshed whenever a parameter changes: each call compares every 4-D
    parameter's storage and in-place version counter with those the copies were made from,
    so an optimizer step or ``load_state_dict`` between calls is seen.

    The input is given channels-last strides too (see :func:`_in_channels_last`). Gradient
    passes: the gradient reaching a max-pooling layer from a flatten or reshape after it is
    in NCHW order, and PyTorch's CPU max-pool backward then copies the whole
    channels-last input gradient twice (to NCHW and back); on the digits ``small_cnn``
    those copies are a fifth of a forward and backward pass. While gradients are enabled,
    each call puts a forward hook on every ``nn.MaxPool2d`` that hands the pooled output's
    gradient to the backward pass in channels-last order (one copy of the smaller pooled
    tensor); the gradient's values are unchanged. The hooks are removed when the call ends.

    Args:
        module: the torch module.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.names = [name for name, parameter in module.named_parameters() if parameter.dim() == 4]
        self._stamp: tuple[tuple[int, int], ...] | None = None
        self._copies: list[torch.Tensor] = []

    def _slots(self) -> list[tuple[nn.Module, str]]:
        """``(owning module, attribute)`` of each 4-D parameter, looked up anew (a parameter may be replaced)."""
        slots = []
        for name in self.names:
            owner, _, leaf = name.rpartition(".")
            slots.append((self.module.get_submodule(owner), leaf))
        return slots

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The module's output on ``x``, computed with the channels-last weights."""
        slots = self._slots()
        parameters = [owner._parameters[leaf] for owner, leaf in slots]
        stamp = tuple((parameter.data_ptr(), parameter._version) for parameter in parameters)
        if stamp != self._stamp:
            layout = torch.channels_last
            self._copies = [parameter.detach().contiguous(memory_format=layout) for parameter in parameters]
            self._stamp = stamp
        hooks = []
        try:
            for (owner, leaf), copy in zip(slots, self._copies, strict=True):
                owner._parameters[leaf] = copy
            if torch.is_grad_enabled():
                hooks = [
                    layer.register_forward_hook(_pooled_gradient_in_channels_last)
                    for layer in self.module.modules()
                    if isinstance(layer, nn.MaxPool2d)
                ]
            return self.module(_in_channels_last(x))
        finally:
            for hook in hooks:
                hook.remove()
            for (owner, leaf), parameter in zip(slots, parameters, strict=True):
                owner._parameters[leaf] = parameter

    def agrees(self, sample: torch.Tensor) -> bool:
        """Whether both layouts give the same output on ``sample`` (and the fast one runs at all).

        A module whose ``forward`` reshapes its weights with ``.view`` fails on the copies;
        one that reads its weights' strides could answer differently. Either keeps the
        module's own layout.
        """
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                expected = self.module(sample)
                try:
                    fast = self(sample)
                except (RuntimeError, ValueError, TypeError):
                    return False
        finally:
            self.module.train(was_training)
        return answers_alike(fast, expected)

    def __getstate__(self) -> dict[str, object]:
        # The copies are rebuilt on first use after unpickling (storages differ anyway).
        return {"module": self.module, "names": self.names, "_stamp": None, "_copies": []}
