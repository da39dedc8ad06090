"""Forward-only passes of a torch module through a frozen trace optimised for inference."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import torch
from torch import nn

from bastion.models.agreement import answers_alike, check_batch

# Larger modules keep their eager forward: the frozen copy doubles the weights' memory.
MAX_TRACED_PARAMETERS = 50_000_000


class TracedInference:
    """Answers ``module(x)`` without gradients from a frozen, inference-optimised trace.

    On CPU, PyTorch's eager forward pass of a small convolutional network spends much of
    its time between kernels: each convolution reorders its weights and input for oneDNN,
    and each ReLU and pooling is its own pass over memory. A trace of the module, frozen
    (weights folded in as constants) and run through
    :func:`torch.jit.optimize_for_inference`, keeps the activations in oneDNN's layout
    from the first convolution to the last pooling, prepacks the weights once and fuses
    each ReLU into its convolution: on the digits ``small_cnn`` a forward pass of 46
    images takes about 0.6x the time of the channels-last eager pass. Attacks that only
    query the model (Square Attack, FAB's checks, every ``predict``) gain that much.

    The trace is of the module as given, built at the first call with the module's current
    weights (about 30 ms for the digits CNN) and used only when it is safe:

    - never while gradients are enabled (``torch.is_grad_enabled()``): gradient passes and
      training loops call the module itself;
    - never while the module is in training mode, or has forward hooks or pre-hooks
      (module-level or global), which a trace would bake in or skip;
    - never when tracing warned that the trace may not generalise (``TracerWarning``:
      Python control flow on tensor values), failed, or answered differently from the
      module on a check batch of another size; the module then keeps its eager forward for
      good (until its weights change);
    - rebuilt when a parameter or buffer changes (storage or in-place version counter),
      since the trace holds a frozen copy of the weights.

    Because the decision depends only on the module and its weights, never on how many
    calls came before, the same inputs always take the same path: results are reproducible.
    ``torch.jit`` is deprecated in favour of ``torch.compile``, which needs a C++ compiler
    and seconds to minutes of compilation; its deprecation warnings are silenced here, and
    where it is missing or fails the module runs eagerly as before.

    Args:
        module: the torch module, in eval mode when called.
        sample_shape: shape of one input, for the check batches.
        low, high: the range the check batches are drawn from.
        device: where the check batches are made.
    """

    def __init__(self, module: nn.Module, sample_shape: tuple[int, ...], low: float, high: float, device) -> None:
        self.module = module
        self.sample_shape = tuple(sample_shape)
        self.low, self.high = float(low), float(high)
        self.device = torch.device(device)
        self._lock = threading.Lock()
        self._submodules: list[nn.Module] = []
        self._structure: tuple[int, ...] | None = None
        self._stamp: tuple[Any, ...] | None = None
        self._graph: torch.jit.ScriptModule | None = None
        self._failed = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor | None:
        """The module's output on ``x`` from the trace, or ``None`` where the trace must not answer."""
        if torch.is_grad_enabled() or self.module.training:
            return None
        graph = self.graph()
        return None if graph is None else graph(x)

    def graph(self) -> torch.jit.ScriptModule | None:
        """The trace for the module's current weights, built if needed; ``None`` if it cannot be used.

        ``None`` also while the module has forward hooks, which the trace would not run.
        """
        with self._lock:
            stamp, hooked = self._inspect()
            if hooked:
                return None
            if stamp != self._stamp:
                self._stamp, self._graph, self._failed = stamp, None, False
            if self._graph is None and not self._failed:
                self._graph = self._build()
                self._failed = self._graph is None
            return self._graph

    def _inspect(self) -> tuple[tuple[Any, ...], bool]:
        """``(stamp, hooked)``: what the trace depends on, and whether a forward hook is set.

        The stamp holds each submodule's children and, per parameter and buffer, its storage
        and in-place version counter: it changes whenever the weights the trace froze do.
        The submodules are walked anew only when one was added, removed or replaced
        (walking ``named_modules`` on every call would cost a fifth of a digits forward pass).
        """
        structure, weights, hooked = self._walk()
        if structure != self._structure:
            self._submodules = list(self.module.modules())
            structure, weights, hooked = self._walk()
            self._structure = structure
        return (structure, weights), hooked

    def _walk(self) -> tuple[tuple[int, ...], tuple[Any, ...], bool]:
        hooked = bool(nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks)
        structure, weights = [], []
        for sub in self._submodules:
            hooked = hooked or bool(sub._forward_hooks or sub._forward_pre_hooks)
            structure.extend(id(child) for child in sub._modules.values())
            for tensor in (*sub._parameters.values(), *sub._buffers.values()):
                weights.append(None if tensor is None else (tensor.data_ptr(), tensor._version))
        return (len(self._submodules), *structure), tuple(weights), hooked

    def _build(self) -> torch.jit.ScriptModule | None:
        if sum(tensor.numel() for tensor in self.module.parameters()) > MAX_TRACED_PARAMETERS:
            return None
        probe, check = (check_batch(n, self.sample_shape, self.low, self.high, self.device, seed=n) for n in (2, 3))
        with warnings.catch_warnings(record=True) as caught, torch.no_grad():
            warnings.simplefilter("always")
            try:
                traced = torch.jit.trace(self.module, probe, check_trace=False)
                graph = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
                fast, expected = graph(check), self.module(check)
            # Tracing runs the user's forward and TorchScript's passes on it: an error in either
            # means the module's own forward stays the answer.
            except (RuntimeError, TypeError, ValueError, AttributeError, IndexError, KeyError):
                return None
        if any(issubclass(warning.category, torch.jit.TracerWarning) for warning in caught):
            return None
        if not isinstance(expected, torch.Tensor):
            return None
        return graph if answers_alike(fast, expected) else None

    def __getstate__(self) -> dict[str, Any]:
        # A ScriptModule and a lock do not pickle; the copy traces again at its first call.
        state = self.__dict__.copy()
        state.update(_lock=None, _submodules=[], _structure=None, _stamp=None, _graph=None, _failed=False)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
