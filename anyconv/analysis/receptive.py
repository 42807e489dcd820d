"""Receptive fields of any network: analytic (Araujo, Norris & Sim 2019) and empirical (the
gradient of one output position with respect to the input)."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from anyconv._checks import choice, fail, int_sequence
from anyconv.analysis import layout as L
from anyconv.analysis.trace import Call, trace

METHODS = ("analytic", "gradient")


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of a feature map's positions, one entry per input spatial axis.

    Attributes:
        size: how many input samples one position sees (``r``).
        jump: the distance in input samples between the fields of neighbouring positions
            (the product of the strides so far, ``j``); 0 where every position sees the
            same region (after global pooling).
        start: the centre of the first position's field, in input coordinates (negative
            when it reaches into the padding).
        note: what was approximated (paths merging with different jumps, resampling) or,
            for ``method="gradient"``, where the field was clipped by the input's border.
    """

    size: tuple[float, ...]
    jump: tuple[float, ...]
    start: tuple[float, ...]
    note: str = ""

    def fits(self, input_size: Sequence[int]) -> bool:
        """Whether some position's field lies wholly inside an input of ``input_size``
        (the field is ``size`` wide and can be centred anywhere on the grid)."""
        return all(s <= n for s, n in zip(self.size, input_size, strict=True))


def axes_text(values: Sequence[float]) -> str:
    """Sizes per axis for a table or a label: ``"5x5"``; a fractional field (after
    resampling) rounded to two decimals, ``"4.33x4.33"``, never ``"4.33333"``.

    Example:
        >>> axes_text((5, 5.0)), axes_text((13 / 3, 1 / 3)), axes_text((0.5, 2.25))
        ('5x5', '4.33x0.33', '0.5x2.25')
    """
    return "x".join(f"{float(v):.2f}".rstrip("0").rstrip(".") for v in values)


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def check_input_shape(input_shape: Any, func: str) -> tuple[int, ...]:
    """``(C, *spatial)`` of one sample: 1 to 4 positive ints, or anyconv's error."""
    shape = int_sequence(input_shape, "input_shape", func)
    if len(shape) > 4:
        raise fail(func, "input_shape", "a tuple (C, *spatial) of 1 to 4 ints", input_shape)
    return shape


def field_of(layout: L.Layout | None, naxes: int) -> ReceptiveField | None:
    """The field of a layout's positions if it is a spatial feature map (an input axis runs
    alone along one of its dimensions), else ``None``."""
    if layout is None or not layout.plain():
        return None
    carried = layout.axes()
    values = []
    for axis in range(naxes):
        if axis in carried:
            a = carried[axis][2]
            values.append((a.size, a.jump, a.start))
        elif axis in layout.covered:
            lo, hi = layout.covered[axis]
            values.append((hi - lo + 1, 0.0, (lo + hi) / 2))
        else:
            return None
    size, jump, start = (tuple(_num(v[i]) for v in values) for i in range(3))
    return ReceptiveField(size, jump, start, "; ".join(layout.notes))


def receptive_field(
    model: torch.nn.Module, input_shape: Sequence[int], *, method: str = "analytic"
) -> dict[str, ReceptiveField]:
    """The receptive field of every module whose output is a spatial feature map.

    ``method="analytic"`` follows the closed-form recurrences of Araujo, Norris & Sim
    (Distill 2019) through one forward pass of zeros: a window of kernel k, dilation d,
    stride s and left padding p maps ``(size, jump, start)`` to ``(size + (k_eff-1)*jump,
    jump*s, start + ((k_eff-1)/2 - p)*jump)`` with ``k_eff = d(k-1)+1``. Every anyconv
    padding rule (per-axis ``causal``/``same`` included), anyconv's locally connected,
    tiled, separable, depthwise and Gabor layers, PyTorch's convolutions and pooling,
    adaptive and global pooling (which cover the whole input), reshapes, slicing and
    frames folded into the batch are followed. Where paths merge (residual addition,
    concatenation) each axis takes the largest field, and ``note`` says so when the paths
    disagree in jump. A module that keeps its input's spatial shape but is not otherwise
    known is taken as pointwise (normalisation layers included); one that changes it in an
    unknown way raises a ``ValueError`` naming it.

    ``method="gradient"`` measures instead: a copy of the model in float64 with every
    parameter made positive (and max pooling replaced by average pooling over the same
    windows), so that nothing cancels; for the position nearest the input's centre, the
    input samples with a nonzero gradient of that position's outputs (summed over
    channels) give ``size``; the next position gives ``jump``. Wherever the field fits
    inside the input, it equals the analytic one; where it does not, it is clipped and
    ``note`` says on which axes.

    Args:
        model: any ``torch.nn.Module`` taking ``(N, *input_shape)``.
        input_shape: ``(C, *spatial)`` of one sample.
        method: ``"analytic"`` or ``"gradient"``.

    Returns:
        ``{name: ReceptiveField}`` keyed by the names of ``model.named_modules()``
        (containers included), in the order the outputs are produced; a module called
        several times reports its first call. Each field has one entry per spatial axis.

    Example:
        >>> net = torch.nn.Sequential(
        ...     torch.nn.Conv2d(1, 4, 3), torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 4, 3))
        >>> for name, f in receptive_field(net, (1, 16, 16)).items():
        ...     print(name, f.size, f.jump, f.start)
        0 (3, 3) (1, 1) (1, 1)
        1 (4, 4) (2, 2) (1.5, 1.5)
        2 (8, 8) (2, 2) (3.5, 3.5)
         (8, 8) (2, 2) (3.5, 3.5)
        >>> receptive_field(net, (1, 16, 16), method="gradient")["2"].size
        (8, 8)
    """
    func = "receptive_field"
    shape = check_input_shape(input_shape, func)
    choice(method, METHODS, "method", func)
    if not isinstance(model, torch.nn.Module):
        raise fail(func, "model", "a torch.nn.Module", type(model).__name__, TypeError)
    if len(shape) < 2:
        raise fail(func, "input_shape", "a tuple (C, *spatial) with a spatial axis", shape)
    traced = trace(model, shape, strict=True, func=func)
    calls = _first_calls(traced, len(shape) - 1)
    fields = {name: f for name, (f, _) in calls.items()}
    if method == "analytic":
        return fields
    _check_gradient_memory(model, shape, traced, func)
    return _gradient_fields(model, shape, calls)


def _check_gradient_memory(
    model: torch.nn.Module, shape: tuple[int, ...], traced: list[Call], func: str
) -> None:
    """The gradient method keeps every activation of a float64 copy for the backward pass,
    and a gradient as large: refuse, in one line, what would not fit."""
    from anyconv.functional.algorithms import memory

    param = next(model.parameters(), None)
    kept = sum(math.prod(c.output_shape) for c in traced if c.leaf and c.output_shape)
    values = sum(p.numel() for p in model.parameters()) + 2 * (math.prod(shape) + kept)
    memory.check_allocation(
        8 * values,
        f"{func}(): method='gradient' (every activation of a float64 copy of the model, "
        f"kept for the backward pass of one sample of shape {shape}; method='analytic' "
        "needs none of them)",
        param.device if param is not None else "cpu",
    )


def receptive_field_stages(model: torch.nn.Module, input_shape: Sequence[int]) -> list[str]:
    """Names of the layers (leaf modules) that change the receptive field, in the order
    they run: the convolutions and poolings (a 1x1 convolution, an activation or a
    normalisation keeps the field of its input and is left out).

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(),
        ...                           torch.nn.MaxPool2d(2), torch.nn.Conv2d(2, 2, 1))
        >>> receptive_field_stages(net, (1, 8, 8))
        ['0', '2']
    """
    func = "receptive_field_stages"
    shape = check_input_shape(input_shape, func)
    naxes = len(shape) - 1
    kept: list[str] = []
    seen: set[str] = set()
    for call in trace(model, shape, strict=True, func=func):
        if call.name in seen or not call.leaf:
            continue
        seen.add(call.name)
        after, before = field_of(call.layout, naxes), field_of(call.input_layout, naxes)
        if after is not None and before is not None and after != before:
            kept.append(call.name)
    return kept


def _first_calls(calls: list[Call], naxes: int) -> dict[str, tuple[ReceptiveField, L.Layout]]:
    found: dict[str, tuple[ReceptiveField, L.Layout]] = {}
    seen: set[str] = set()
    for call in calls:
        if call.name in seen:
            continue
        seen.add(call.name)
        field = field_of(call.layout, naxes)
        if field is not None:
            found[call.name] = (field, call.layout)
    return found


class _Smooth(TorchFunctionMode):
    """Max pooling and max reductions as means over the same windows: the gradient then
    reaches every sample a window reads, not just the winner."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name.startswith("max_pool") and name[8] in "123":
            return _mean_pool(int(name[8]), *args, **kwargs)
        if name.startswith("adaptive_max_pool"):
            pool = getattr(torch.nn.functional, name.replace("max", "avg"))
            out = pool(args[0], kwargs.get("output_size", args[1] if len(args) > 1 else None))
            return (out, out) if kwargs.get("return_indices") else out
        reduces = (len(args) > 1 and not isinstance(args[1], torch.Tensor)) or "dim" in kwargs
        if name in ("amax", "max") and reduces:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
            keep = kwargs.get("keepdim", args[2] if len(args) > 2 else False)
            out = args[0].mean(dim, keepdim=keep)
            # max(dim) returns (values, indices); the indices are not used for gradients
            return out if name == "amax" else torch.return_types.max((out, out.long()))
        return func(*args, **kwargs)


def _mean_pool(
    nd: int,
    x: torch.Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    from anyconv.functional.pool import avg_pool

    def per_axis(v: Any) -> tuple[int, ...]:
        return tuple(v) if isinstance(v, Sequence) else (v,) * nd

    out = avg_pool(
        x,
        per_axis(kernel_size),
        per_axis(stride or kernel_size),
        per_axis(padding),
        ceil_mode,
        False,
        dilation=per_axis(dilation),
    )
    return (out, out) if return_indices else out


class _MeanOfWindows(torch.nn.Module):
    """An anyconv max pooling layer's windows, averaged."""

    def __init__(self, pool: torch.nn.Module) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from anyconv.functional.pool import avg_pool

        p = self.pool
        return avg_pool(
            x, p.kernel_size, p.stride, p.padding, p.ceil_mode, False, dilation=p.dilation
        )


def _positive_copy(model: torch.nn.Module) -> torch.nn.Module:
    from anyconv import nn as ann

    maxpools = tuple(getattr(ann, f"MaxPool{d}d") for d in (1, 2, 3))
    twin = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in twin.parameters():
            p.copy_(p.abs() + 0.01)
            p.requires_grad_(False)  # only the input's gradient is wanted
        for name, b in twin.named_buffers():
            if name.endswith("running_mean"):
                b.zero_()
            elif name.endswith("running_var"):
                b.fill_(1.0)
    for module in list(twin.modules()):
        if isinstance(getattr(module, "algorithm", None), str):
            module.algorithm = "native"  # exact zeros (an FFT leaves round-off everywhere)
        for child_name, child in list(module.named_children()):
            if isinstance(child, maxpools):
                setattr(module, child_name, _MeanOfWindows(child))
    return twin


def _position_sum(out: torch.Tensor, layout: L.Layout, picks: dict[int, int]) -> torch.Tensor:
    """Sum of the outputs at the position whose index along each input axis is
    ``picks[axis]`` (over every channel and every other axis-free index)."""
    for d, factors in enumerate(layout.dims):
        sizes = [n for n, _ in factors] or [1]
        index = torch.arange(out.shape[d]).reshape(sizes)
        for k, (_, a) in enumerate(factors):
            if a is not None:
                index = index.narrow(k, picks.get(a.axis, 0), 1)
        out = out.index_select(d, index.flatten().to(out.device))
    return out.sum()


def _inward(a: L.Axis, index: int, length: int, n: int) -> tuple[int, bool]:
    """+1 or -1: the neighbour of position ``index`` whose field lies inside the input
    (preferring +1), so that its measured centre is not pulled by the border; and whether
    it does."""
    for step in (1, -1):
        lo, hi = a.at(index + step)
        if 0 <= index + step < length and lo >= 0 and hi <= n - 1:
            return step, True
    return (1 if index + 1 < length else -1), False


def _extent(grad: torch.Tensor, axis: int) -> tuple[int, int] | None:
    other = tuple(i for i in range(grad.dim()) if i != axis)
    profile = grad.abs().sum(other) if other else grad.abs()
    hit = torch.nonzero(profile > profile.max() * 1e-12).flatten().cpu()
    return (int(hit[0]), int(hit[-1])) if len(hit) else None


def _twin_outputs(
    model: torch.nn.Module, shape: tuple[int, ...], names: Sequence[str]
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The positive float64 twin's outputs of the named modules for an input of ones."""
    twin = _positive_copy(model)
    modules = dict(twin.named_modules())
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for name in names:

        def keep(_m: Any, _a: Any, out: Any, name: str = name) -> None:
            if name not in outputs and isinstance(out, torch.Tensor):
                outputs[name] = out

        handles.append(modules[name].register_forward_hook(keep))
    param = next(twin.parameters(), None)
    device = param.device if param is not None else "cpu"
    x = torch.ones(1, *shape, dtype=torch.float64, device=device, requires_grad=True)
    try:
        with _Smooth():
            twin(x)
    finally:
        for h in handles:
            h.remove()
    return outputs, x


def _gradient_fields(
    model: torch.nn.Module,
    shape: tuple[int, ...],
    calls: dict[str, tuple[ReceptiveField, L.Layout]],
) -> dict[str, ReceptiveField]:
    outputs, x = _twin_outputs(model, shape, list(calls))
    return {
        name: _measured(outputs[name], layout, analytic, x, shape[1:]).measured
        for name, (analytic, layout) in calls.items()
    }


@dataclass(frozen=True)
class FieldMap:
    """The measured receptive field of one position of a layer (see :func:`field_maps`)."""

    name: str
    position: tuple[int, ...]
    gradient: torch.Tensor
    analytic: ReceptiveField
    measured: ReceptiveField

    def box(self) -> tuple[tuple[float, float], ...]:
        """The analytic field of ``position``: first and last input sample per axis."""
        a = self.analytic
        return tuple(
            (c - (r - 1) / 2, c + (r - 1) / 2)
            for c, r in (
                (a.start[i] + self.position[i] * a.jump[i], a.size[i]) for i in range(len(a.size))
            )
        )


def field_maps(
    model: torch.nn.Module, input_shape: Sequence[int], layers: Sequence[str] | None = None
) -> list[FieldMap]:
    """For the position nearest the input's centre of each layer, the gradient of its
    outputs (summed over channels) with respect to the input, as ``method="gradient"`` of
    :func:`receptive_field` measures it: nonzero exactly on the receptive field; its
    magnitude says how many (positive-weight) paths lead from each input sample there.

    Args:
        model: any ``torch.nn.Module``.
        input_shape: ``(C, *spatial)``.
        layers: module names (default every module with a spatial output).

    Returns:
        one :class:`FieldMap` per layer: ``gradient`` ``(*spatial)`` (float64, >= 0),
        ``position`` (the output position, per input axis), the analytic and the measured
        :class:`ReceptiveField`.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv1d(1, 1, 3), torch.nn.Conv1d(1, 1, 3))
        >>> m = field_maps(net, (1, 9), ["1"])[0]
        >>> m.position, (m.gradient > 0).nonzero().flatten().tolist(), m.box()
        ((2,), [2, 3, 4, 5, 6], ((2.0, 6.0),))
    """
    func = "field_maps"
    shape = check_input_shape(input_shape, func)
    calls = _first_calls(trace(model, shape, strict=True, func=func), len(shape) - 1)
    names = list(calls) if layers is None else list(layers)
    for name in names:
        if name not in calls:
            raise fail(func, "layers", "names of modules with spatial outputs", name)
    outputs, x = _twin_outputs(model, shape, names)
    return [_measured(outputs[n], calls[n][1], calls[n][0], x, shape[1:], name=n) for n in names]


def _measured(
    out: torch.Tensor,
    layout: L.Layout,
    analytic: ReceptiveField,
    x: torch.Tensor,
    spatial: tuple[int, ...],
    name: str = "",
) -> FieldMap:
    """The empirical field of the position nearest the input's centre, and the shift of
    its field to the next position's along each axis."""
    carried = {axis: (layout.dims[d][k][0], a) for axis, (d, k, a) in layout.axes().items()}
    picks = {}
    for axis, (length, a) in carried.items():
        best = round(((spatial[axis] - 1) / 2 - a.start) / a.jump) if a.jump else 0
        picks[axis] = min(max(best, 0), length - 1)

    def gradient(picks: dict[int, int]) -> torch.Tensor:
        (grad,) = torch.autograd.grad(_position_sum(out, layout, picks), x, retain_graph=True)
        return grad[0].sum(0)

    grad = gradient(picks)
    size, jump, start, clipped, approximate = [], [], [], [], []
    for axis in range(len(spatial)):
        lo, hi = _extent(grad, axis) or (0, -1)
        centre, step = (lo + hi) / 2, 0.0
        if axis in carried:
            length, a = carried[axis]
            step = a.jump if length == 1 else math.nan
            if length > 1:
                other = dict(picks)
                step_to, inside = _inward(a, picks[axis], length, spatial[axis])
                other[axis] += step_to
                if not inside:
                    approximate.append(str(axis))
                ends = _extent(gradient(other), axis)
                if ends:
                    step = ((ends[0] + ends[1]) / 2 - centre) / (other[axis] - picks[axis])
        index = picks.get(axis, 0)
        size.append(hi - lo + 1)
        jump.append(_num(step) if not math.isnan(step) else step)
        start.append(_num(centre - index * step) if not math.isnan(step) else math.nan)
        first = analytic.start[axis] + index * analytic.jump[axis] - (analytic.size[axis] - 1) / 2
        if first < 0 or first + analytic.size[axis] > spatial[axis]:
            clipped.append(str(axis))
    notes = []
    if clipped:
        notes.append(f"clipped by the input's border on axis {', '.join(clipped)}")
    if approximate:
        notes.append(
            f"the neighbouring fields on axis {', '.join(approximate)} are clipped, so "
            "jump and start are approximate"
        )
    note = "; ".join(notes)
    measured = ReceptiveField(tuple(size), tuple(jump), tuple(start), note)
    position = tuple(picks.get(axis, 0) for axis in range(len(spatial)))
    return FieldMap(name, position, grad.detach().cpu(), analytic, measured)
