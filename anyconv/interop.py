"""anyconv models in PyTorch's compiler and exporters: ``anyconv.compile``, ``anyconv.export``.

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

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import torch
import torch._inductor.custom_graph_pass

__all__ = ["Deployable", "compile", "export"]


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


FORMATS = ("onnx", "pt2")
EXTRA = "pip install 'anyconv[export]'"


class Deployable(torch.nn.Module):
    """``model(normalize(x))``: the raw inputs ``anyconv predict`` takes in ``.npy`` files
    (before the run's normalisation) to logits, in tensor operations an exporter keeps.

    ``normalization`` is a run's ``config["input"]["normalization"]``: ``per_sample:
    "znorm"`` (each series to mean 0 and spread 1 over its values; a constant one to 0),
    ``divide``, then per-channel ``mean`` and ``std``.
    """

    def __init__(self, model: torch.nn.Module, normalization: dict | None = None) -> None:
        super().__init__()
        self.model = model
        normalization = dict(normalization or {})
        self.znorm = normalization.get("per_sample") == "znorm"
        self.divide = float(normalization["divide"]) if normalization.get("divide") else None
        stats = [normalization.get(k) for k in ("mean", "std")]
        for name, value in zip(("mean", "std"), stats, strict=True):
            tensor = None if stats[0] is None or stats[1] is None else torch.tensor(value)
            self.register_buffer(name, tensor, persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.znorm:
            flat = x.flatten(2)
            centred = flat - flat.mean(-1, keepdim=True)
            std = centred.square().mean(-1, keepdim=True).sqrt()
            flat = torch.where(std > 0, centred / torch.where(std > 0, std, 1.0), 0.0)
            x = flat.view(x.shape)
        if self.divide is not None:
            x = x / self.divide
        if self.mean is not None:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            x = (x - self.mean.view(shape)) / self.std.view(shape)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalize(x))


def _require(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"export(): format 'onnx' needs {', '.join(missing)} (the extra 'export'): {EXTRA}"
        )


def export(
    model: torch.nn.Module,
    example_input: torch.Tensor,
    path: str | os.PathLike,
    format: str = "onnx",
    *,
    normalization: dict | None = None,
    class_names: list[str] | None = None,
    dynamic_batch: bool = True,
    check: torch.Tensor | None = None,
    atol: float = 1e-4,
) -> Path:
    """Export ``model`` for deployment: ONNX (``torch.onnx.export(dynamo=True)``, run by
    onnxruntime) or ``pt2`` (a ``torch.export`` program, ``torch.export.save``).

    The file takes raw inputs ``(N, *example_input.shape[1:])`` (any ``N`` when
    ``dynamic_batch``), applies ``normalization`` inside the graph (:class:`Deployable`) and
    returns logits. Its metadata hold the class names, the input shape and the
    normalisation (ONNX: ``metadata_props``; pt2: the extra file ``anyconv.json``). For ONNX
    every convolution is exported as ONNX's ``Conv`` (``algorithm="native"``: all algorithms
    compute the same function, and ONNX has no complex numbers for the FFT path); ``pt2``
    keeps the algorithms ``auto`` picks. Before returning, the file is run (onnxruntime, or
    the loaded program) on ``check`` (default: ``example_input``) and compared with the
    model in PyTorch: a larger difference than ``atol`` (relative to the logits' scale) is an
    error.

    Returns:
        the path written.

    Example (not run here: it needs the extra ``export``)::

        model, config = anyconv.train.load_run("runs/lenet5-digits-...")
        anyconv.export(model, torch.zeros(1, *config["input_shape"]), "lenet5.onnx")
    """
    from anyconv._checks import choice
    from anyconv.functional.algorithms.registry import only

    choice(format, FORMATS, "format", "export")
    if format == "onnx":
        _require("onnx", "onnxscript", "onnxruntime")
    path = Path(path)
    deployable = Deployable(model, normalization).eval()
    meta = {
        "producer": "anyconv",
        "input_shape": list(example_input.shape[1:]),
        "class_names": list(class_names or []),
        "normalization": dict(normalization or {}),
    }
    batch = {0: torch.export.Dim("batch", min=1)} if dynamic_batch else {}
    if dynamic_batch and example_input.shape[0] < 2:  # a size of 1 would be specialised
        example_input = example_input.expand(2, *example_input.shape[1:]).clone()
    # the algorithms for ONNX's Conv, the batch axis left dynamic: decisions taken from
    # shapes see the example's batch size (anyconv._tracing.concrete)
    context = only("native") if format == "onnx" else contextlib.nullcontext()
    with torch.no_grad(), context:
        program = torch.export.export(
            deployable, (example_input,), dynamic_shapes=(batch,), strict=False
        )
        check = example_input if check is None else check
        want = deployable(check)
    if format == "onnx":
        got = _write_onnx(program, path, meta, check)
    else:
        torch.export.save(program, path, extra_files={"anyconv.json": json.dumps(meta)})
        loaded = torch.export.load(path)
        with torch.no_grad():
            got = loaded.module()(check)
    scale = max(1.0, float(want.abs().max()))
    error = float((torch.as_tensor(got) - want).abs().max())
    if not error <= atol * scale:
        raise ValueError(
            f"export(): the {format} file {path} gives logits up to {error:.3g} away from "
            f"PyTorch's (allowed: {atol * scale:.3g}); the file is kept for inspection"
        )
    return path


def _write_onnx(program, path: Path, meta: dict, check: torch.Tensor) -> torch.Tensor:
    """Write the ONNX file with ``meta`` in its metadata; its logits on ``check``
    (onnxruntime)."""
    import onnx
    import onnxruntime

    onnx_program = torch.onnx.export(program, dynamo=True, verbose=False)
    proto = onnx_program.model_proto
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(proto, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return torch.from_numpy(session.run(None, {name: check.numpy()})[0])
