"""anyconv models in PyTorch's compiler: ``anyconv.compile``.

Every anyconv layer and registered model traces whole under ``torch.compile(model,
fullgraph=True)`` (see :mod:`anyconv._tracing`). :func:`compile` is ``torch.compile`` with the
one setting that made a compiled training step as fast as eager on the CPU here.

Why a setting: AOT autograd splits the joint forward/backward graph with a min-cut
partitioner, which keeps the smallest tensors for the backward pass: for ReLU the boolean
mask ``out <= 0`` (one byte per element) rather than the output. On the CPU, inductor's code
that stores and reloads such masks converts them lane by lane with data-dependent branches
(``Vectorized<bool>::blendv``), which mispredict on ReLU's random signs: a fused ReLU with
its mask ran 10-70x slower than PyTorch's own kernel (2-core x86-64 CPU, torch 2.13), and a
compiled LeNet-5 training step took 1.25-1.43x the eager time, with or without anyconv. The
default partitioner keeps the tensors the backward pass reads (the ReLU output) and computes
the mask there, in registers. ``docs/benchmarks.md`` has the figures.
"""

from __future__ import annotations

from typing import Any

import torch
import torch._inductor.custom_graph_pass

__all__ = ["compile"]


class _KeepBackwardInputs(torch._inductor.custom_graph_pass.CustomPartitionerFn):
    """AOT autograd's default partition: the backward pass gets the tensors it reads."""

    def __call__(self, gm, joint_inputs, **kwargs):
        from torch._functorch.partitioners import default_partition

        keep = ("num_fwd_outputs", "static_lifetime_input_indices")
        return default_partition(gm, joint_inputs, **{k: kwargs[k] for k in keep if k in kwargs})

    def uuid(self) -> str:
        return "anyconv.interop.default_partition.v1"


def compile(model: Any = None, **kwargs: Any) -> Any:
    """``torch.compile(model, **kwargs)`` with AOT autograd's default partitioner on the CPU
    backend (inductor), which keeps ReLU outputs instead of boolean masks for the backward
    pass (see the module). Every other argument is ``torch.compile``'s; an ``options`` dict
    of your own is merged, its ``custom_partitioner_fn`` wins.

    Example:
        >>> import anyconv
        >>> net = anyconv.models.create_model("lenet5")
        >>> compiled = anyconv.compile(net, fullgraph=True)
        >>> callable(compiled)
        True
    """
    backend = kwargs.get("backend", "inductor")
    if backend == "inductor" and kwargs.get("mode") is None:
        options = {"custom_partitioner_fn": _KeepBackwardInputs(), **kwargs.pop("options", {})}
        kwargs["options"] = options
    if model is None:
        return lambda m: torch.compile(m, **kwargs)
    return torch.compile(model, **kwargs)
