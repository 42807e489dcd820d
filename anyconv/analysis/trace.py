"""One forward pass of a batch of one through any ``torch.nn.Module``, recording for every
module call its output shape, its own parameters and multiply-accumulates, and where each
element of its output looks in the input (:mod:`anyconv.analysis.layout`).

Operations are followed at two levels. anyconv's sliding-window layers (convolutions,
locally connected, tiled, separable and Gabor layers, every pooling and blur:
:class:`~anyconv.nn.WindowLayer`) are taken whole, each asked for its geometry
(:meth:`~anyconv.nn.WindowLayer.spec`, the same it computes with). Everything else --
``torch.nn`` layers, the code in a container's ``forward`` -- is followed one PyTorch
function at a time through a ``TorchFunctionMode``: convolutions and pooling by their
arguments, reshapes, permutations, slicing and concatenation by their layout, reductions as
covering what they reduce, and every other function that keeps the shape as elementwise
(paths merge there).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from anyconv.analysis import layout as L
from anyconv.analysis import ops
from anyconv.analysis.ops import separable_macs
from anyconv.analysis.rules import CONSTANT, RULES, default, tensors
from anyconv.padding import ConvSpec


@dataclass
class Call:
    """One call of a module during :func:`trace`."""

    name: str
    module: torch.nn.Module
    leaf: bool
    output_shape: tuple[int, ...] | None
    parameters: int
    macs: int = 0
    layout: L.Layout | None = None
    input_layout: L.Layout | None = None
    notes: list[str] = field(default_factory=list)
    input: torch.Tensor | None = field(default=None, repr=False)


def is_window_layer(module: torch.nn.Module) -> bool:
    """Whether ``module`` is one of anyconv's sliding-window layers (taken whole: it gives
    its geometry, :meth:`~anyconv.nn.WindowLayer.spec`)."""
    from anyconv.nn.base import WindowLayer

    return isinstance(module, WindowLayer)


def _module_macs(module: torch.nn.Module, spec: ConvSpec, out: torch.Tensor) -> int:
    """Closed-form MACs of an anyconv window layer for this call (pooling: 0)."""
    from anyconv.nn.antialias import _BlurPoolNd
    from anyconv.nn.base import ConvLayer
    from anyconv.nn.separable import _SeparableConvNd

    kernel = spec.kernel_size
    if isinstance(module, _SeparableConvNd):
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(spec.in_shape, spec.padding, strict=True))
        return separable_macs(
            module.in_channels,
            module.out_channels,
            module.rank,
            kernel,
            padded,
            spec.out_shape,
            batch=out.shape[0],
        )
    if module.transposed:  # every input scatters C_out/groups · kernel taps
        inputs = out.shape[0] * module.in_channels * math.prod(spec.out_shape)
        return inputs * module.out_channels // module.groups * math.prod(kernel)
    if isinstance(module, ConvLayer):
        return out.numel() * module.in_channels // module.groups * math.prod(kernel)
    if isinstance(module, _BlurPoolNd):
        return out.numel() * math.prod(kernel)
    return 0


def _op_macs(name: str, args: tuple, out: Any) -> int:
    """MACs of the PyTorch functions that multiply-accumulate (conv, linear, matmul)."""
    if not isinstance(out, torch.Tensor):
        return 0
    if name in ("conv1d", "conv2d", "conv3d"):
        w = args[1]
        return out.numel() * w.shape[1] * math.prod(w.shape[2:])
    if name.startswith("conv_transpose"):
        w = args[1]
        return args[0].numel() * w.shape[1] * math.prod(w.shape[2:])
    if name == "linear":
        return out.numel() * args[1].shape[-1]
    if name == "bilinear":
        return out.numel() * args[2].shape[1] * args[2].shape[2]
    if name in ("matmul", "mm", "bmm", "__matmul__", "__rmatmul__"):
        return out.numel() * args[0].shape[-1]
    if name in ("addmm", "baddbmm", "addbmm"):
        return out.numel() * args[1].shape[-1]
    return 0


def _name(func: Callable) -> str:
    name = getattr(func, "__name__", "")
    if name == "__get__":  # a property such as Tensor.mT
        name = getattr(getattr(func, "__self__", None), "__name__", name)
    return name


class _Tracer(TorchFunctionMode):
    def __init__(self, strict: bool, func: str, pointwise: bool = True) -> None:
        super().__init__()
        # id -> (weak reference, layout): the trace keeps no activation alive, so it needs
        # no more memory than the forward pass itself (it kept every one, 8x the peak of a
        # TCN's forward pass)
        self.layouts: dict[int, tuple[weakref.ref, L.Layout]] = {}
        self.stack: list[Call] = []
        self.skip = 0
        self.strict, self.func, self.pointwise = strict, func, pointwise
        self.current = ""  # the PyTorch function being followed

    # -- layouts of tensors ------------------------------------------------------------
    def get(self, t: Any) -> L.Layout | None:
        entry = self.layouts.get(id(t)) if isinstance(t, torch.Tensor) else None
        return entry[1] if entry is not None and entry[0]() is t else None

    def put(self, t: Any, layout: L.Layout | None) -> None:
        if isinstance(t, torch.Tensor):
            if layout is None:
                self.layouts.pop(id(t), None)
            else:
                key = id(t)

                def forget(ref: weakref.ref, layouts: dict = self.layouts) -> None:
                    if layouts.get(key, (None,))[0] is ref:  # not a newer entry's
                        del layouts[key]

                self.layouts[key] = (weakref.ref(t, forget), layout)

    def lay(self, t: torch.Tensor) -> L.Layout:
        """A tensor's layout; an untracked tensor (a constant) carries no axis."""
        found = self.get(t)
        return found if found is not None else L.Layout(tuple(((n, None),) for n in t.shape))

    # -- the mode ------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.skip:
            return out
        name = _name(func)
        own = ops.read(func, args, kwargs)  # anyconv's operators, whatever the algorithm
        if self.stack:
            self.stack[-1].macs += ops.macs(func, own, out) if own else _op_macs(name, args, out)
        inputs = [t for t in tensors((*args, *kwargs.values())) if self.get(t) is not None]
        if not inputs:
            return out
        outs = out if isinstance(out, tuple | list) else (out,)
        if not any(isinstance(o, torch.Tensor) for o in outs) or name in CONSTANT:
            return out
        self.current = name
        try:
            if own:
                result = ops.layout(self, own, out)
            else:
                result = RULES.get(name, default)(self, args, kwargs, out)
        except L.CannotFollow as error:
            self.cannot_follow(f"torch function '{name}': {error}")
            result = None
        if isinstance(result, list):
            for o, r in zip(outs, result, strict=False):
                self.put(o, r)
        else:
            for o in outs:
                self.put(o, result if isinstance(o, torch.Tensor) else None)
        return out

    def cannot_follow(self, reason: str) -> None:
        where = next((c for c in reversed(self.stack)), None)
        if where is not None and (where.leaf or not self.strict):
            where.notes.append(reason)  # the module's hook decides
            return
        module = f"module '{where.name}' ({type(where.module).__name__})" if where else "the model"
        raise ValueError(
            f"{self.func}(): cannot follow the receptive field through {module}: {reason}"
        )

    # -- module hooks --------------------------------------------------------------------
    def pre_hook(self, name: str, leaf: bool, counted: set[int]) -> Callable:
        def hook(module: torch.nn.Module, args: tuple) -> None:
            own = 0
            if id(module) not in counted:
                counted.add(id(module))
                own = sum(p.numel() for p in module.parameters(recurse=leaf))
            first = tensors(args)
            call = Call(name, module, leaf, None, own)
            call.input = first[0] if first else None
            call.input_layout = self.get(call.input)
            self.stack.append(call)
            if is_window_layer(module):
                self.skip += 1

        return hook

    def post_hook(self, calls: list[Call]) -> Callable:
        def hook(module: torch.nn.Module, args: tuple, output: Any) -> None:
            call = self.stack.pop()
            x, call.input = call.input, None
            found = tensors([output])
            out = found[0] if found else None
            call.output_shape = tuple(out.shape[1:]) if out is not None else None
            if is_window_layer(module):
                self.skip -= 1
                self.window_module(call, x, out)
            elif call.leaf and out is not None and (call.notes or self.get(out) is None):
                self.leaf_fallback(call, x, out)
            if out is not None:
                call.layout = self.get(out)
            calls.append(call)

        return hook

    def window_module(self, call: Call, x: torch.Tensor | None, out: torch.Tensor | None) -> None:
        if x is None or out is None:
            return
        module = call.module
        spatial = tuple(x.shape[2:])
        # a transposed convolution gives the convolution whose adjoint it is, for the
        # output size this call produced (``forward(x, output_size)`` may choose one)
        spec = (
            module.spec(spatial, tuple(out.shape[2:]))
            if module.transposed
            else module.spec(spatial)
        )
        call.macs += _module_macs(module, spec, out)
        source = self.get(x)
        if source is None:
            return
        from anyconv.nn.base import ConvLayer

        channels = out.shape[1] if isinstance(module, ConvLayer) else None  # mixes channels
        try:
            result = (L.transposed_window if module.transposed else L.window)(
                source,
                spec.kernel_size,
                spec.stride,
                spec.dilation,
                [lo for lo, _ in spec.padding],
                tuple(out.shape[2:]),
                channels,
            )
        except L.CannotFollow as error:
            self.cannot_follow(str(error))
            result = None
        self.put(out, result)

    def leaf_fallback(self, call: Call, x: torch.Tensor | None, out: torch.Tensor) -> None:
        """A leaf whose functions could not all be followed: pointwise when it keeps the
        shape of its input, else an error naming it."""
        source = self.get(x) if x is not None else None
        if source is None:
            self.put(out, None)
            return
        carried = [i for i, d in enumerate(source.dims) if any(a for _, a in d)]
        kept = out.dim() == x.dim() and all(out.shape[i] == x.shape[i] for i in carried)
        if kept and not self.pointwise:  # taken as unknown, not as pointwise
            self.put(out, None)
            return
        if kept:
            dims = [
                source.dims[i] if i in carried else ((n, None),) for i, n in enumerate(out.shape)
            ]
            self.put(out, L.Layout(tuple(dims), source.covered, source.notes))
            call.notes.clear()
            return
        reason = call.notes[0] if call.notes else "its output is not derived from its input"
        message = (
            f"{self.func}(): module '{call.name}' ({type(call.module).__name__}) changes the "
            f"spatial shape {tuple(x.shape[1:])} -> {tuple(out.shape[1:])} in a way the "
            f"analysis does not follow ({reason})"
        )
        if self.strict:
            raise ValueError(message)
        self.put(out, None)


TRACE_FACTOR = 16
"""A traced forward pass of one sample is taken to need up to this many times its widest
activation (the widest layer's channels at the input's spatial size). Measured peaks on the
2-core machine (resident memory above the start, in float32): 1.7x (mobilenet_tiny at
256x256) to 10.6x (tcn on 200,000 samples: its residual blocks keep padded copies and the
block's input beside the output)."""


def _reference(model: torch.nn.Module) -> torch.Tensor | None:
    param = next(model.parameters(), None)
    return param if param is not None else next(model.buffers(), None)


def trace_memory(model: torch.nn.Module, input_shape: Sequence[int]) -> tuple[int, int]:
    """``(bytes, widest)``: what one traced forward pass of a sample of ``input_shape`` may
    need at its peak (:data:`TRACE_FACTOR` times the widest activation, plus the input; the
    trace keeps no activation alive), and the channel count taken as the widest (the
    largest ``out_channels`` of the model's modules, or the input's). Nothing is run, so
    a model built on the meta device can be sized before it is built for real.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU())
        >>> trace_memory(net, (1, 100, 100))  # 16 x 8 x 100 x 100 x 4 bytes + the input
        (5160000, 8)
    """
    ref = _reference(model)
    item = ref.dtype.itemsize if ref is not None and ref.dtype.is_floating_point else 4
    widest = max(
        [input_shape[0]]
        + [c for m in model.modules() if isinstance(c := getattr(m, "out_channels", 0), int)]
    )
    positions = math.prod(input_shape[1:])
    return item * (math.prod(input_shape) + TRACE_FACTOR * widest * positions), widest


def check_trace_memory(model: torch.nn.Module, input_shape: Sequence[int], func: str) -> None:
    """Refuse, before anything is allocated, a sample too large to trace: anyconv's
    ``ValueError`` in one line with the estimate and the limit
    (:func:`anyconv.functional.algorithms.memory.check_allocation`: half the device's
    memory, and on the CPU what is available now)."""
    from anyconv.functional.algorithms import memory

    ref = _reference(model)
    need, widest = trace_memory(model, input_shape)
    memory.check_allocation(
        need,
        f"{func}(): one sample of shape {tuple(input_shape)} through the model (its widest "
        f"layer: {widest} channel{'s' if widest != 1 else ''} at "
        f"{math.prod(input_shape[1:]):,} positions; use a smaller input_shape)",
        ref.device if ref is not None else "cpu",
    )


def trace(
    model: torch.nn.Module,
    input_shape: Sequence[int],
    *,
    strict: bool = False,
    func: str = "trace",
    pointwise: bool = True,
) -> list[Call]:
    """Run a batch of one (zeros, eval mode, no gradients) and describe every module call.

    Args:
        model: any ``torch.nn.Module``.
        input_shape: ``(C, *spatial)`` of one sample.
        strict: raise a ``ValueError`` naming the module where the receptive field cannot
            be followed; otherwise the fields after it are ``None``.
        func: the public function name used in error messages.
        pointwise: take a leaf module that keeps its input's shape, but whose functions
            could not all be followed, as pointwise (normalisation layers written in ways
            the rules do not know); ``False``: its output is not followed.

    Returns:
        one :class:`Call` per module call in the order the calls return (a container after
        its children), with ``layout`` the output's :class:`~anyconv.analysis.layout.Layout`
        (``None`` where not followed).

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.MaxPool2d(2))
        >>> [(c.name, c.output_shape, c.macs) for c in trace(net, (1, 8, 8))]
        [('0', (2, 6, 6), 648), ('1', (2, 3, 3), 0), ('', (2, 3, 3), 0)]
    """
    check_trace_memory(model, input_shape, func)
    tracer = _Tracer(strict, func, pointwise)
    calls: list[Call] = []
    counted: set[int] = set()
    handles = []
    inside = {
        id(m) for w in model.modules() if is_window_layer(w) for m in w.modules() if m is not w
    }
    for name, module in model.named_modules():
        if id(module) in inside:
            continue
        leaf = is_window_layer(module) or not any(True for _ in module.children())
        handles.append(module.register_forward_pre_hook(tracer.pre_hook(name, leaf, counted)))
        handles.append(module.register_forward_hook(tracer.post_hook(calls)))
    ref = _reference(model)
    x = torch.zeros(
        1,
        *input_shape,
        device=ref.device if ref is not None else "cpu",
        dtype=ref.dtype if ref is not None and ref.dtype.is_floating_point else torch.float32,
    )
    tracer.put(x, L.input_layout(tuple(x.shape)))
    training = model.training
    try:
        model.eval()
        with torch.no_grad(), tracer:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(training)
    return calls
