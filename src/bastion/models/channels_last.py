"""Run a convolutional module in channels-last memory format without changing it."""

from __future__ import annotations

import torch
from torch import nn

from bastion.models.agreement import answers_alike


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
        try:
            for (owner, leaf), copy in zip(slots, self._copies, strict=True):
                owner._parameters[leaf] = copy
            return self.module(x)
        finally:
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
