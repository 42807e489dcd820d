"""How each PyTorch function changes a :class:`~anyconv.analysis.layout.Layout`: the rules
that :func:`anyconv.analysis.trace.trace` applies one function call at a time.

A rule takes the tracer (for the layouts of the arguments: ``tr.lay(t)``, and the
function's name: ``tr.current``), the call's arguments and its output, and returns the
output's layout (a list for several outputs). It raises
:class:`~anyconv.analysis.layout.CannotFollow` where the effect on receptive fields is not
known. Functions without a rule that keep the shape are elementwise (:func:`default`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from anyconv.analysis import layout as L
from anyconv.padding import resolve_padding


def tensors(values: Any) -> list[torch.Tensor]:
    found = []
    for v in values:
        if isinstance(v, torch.Tensor):
            found.append(v)
        elif isinstance(v, list | tuple):
            found += [t for t in v if isinstance(t, torch.Tensor)]
    return found


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _dims(value: Any, ndim: int) -> list[int]:
    if value is None:
        return list(range(ndim))
    values = [value] if isinstance(value, int) else list(value)
    return [v % ndim for v in values]


def default(tr: Any, args: tuple, kwargs: dict, out: Any) -> L.Layout:
    """Shape kept (after broadcasting): elementwise; a scalar: everything; else unknown."""
    inputs = [t for t in tensors((*args, *kwargs.values())) if tr.get(t) is not None]
    first = out if isinstance(out, torch.Tensor) else tensors(out)[0]
    shape = tuple(first.shape)
    if all(tuple(o.shape) == shape for o in tensors([out]) if isinstance(o, torch.Tensor)):
        try:
            if torch.broadcast_shapes(*(t.shape for t in inputs)) == shape:
                return L.merge([tr.lay(t) for t in inputs], shape)
        except RuntimeError:
            pass
    if not shape:
        return L.merge([L.regroup(tr.lay(t), ()) for t in inputs], ())
    raise L.CannotFollow(
        f"it turns {' and '.join(str(tuple(t.shape)) for t in inputs)} into {shape}"
    )


def _reshape(tr, args, kwargs, out):
    return L.regroup(tr.lay(args[0]), tuple(out.shape))


def _permute(tr, args, kwargs, out):
    dims = args[1:] if len(args) > 1 else (kwargs["dims"],)
    if len(dims) == 1 and isinstance(dims[0], Sequence):
        dims = dims[0]
    n = args[0].dim()
    return L.permute(tr.lay(args[0]), [d % n for d in dims])


def _transpose(tr, args, kwargs, out):
    n = args[0].dim()
    order = list(range(n))
    if n >= 2:
        a = _arg(args, kwargs, 1, "dim0", 0) % n
        b = _arg(args, kwargs, 2, "dim1", 1) % n
        order[a], order[b] = order[b], order[a]
    return L.permute(tr.lay(args[0]), order)


def _matrix_t(tr, args, kwargs, out):
    n = args[0].dim()
    order = list(range(n))
    if n >= 2:
        order[-2:] = order[-1], order[-2]
    return L.permute(tr.lay(args[0]), order)


def _reverse(tr, args, kwargs, out):
    return L.permute(tr.lay(args[0]), list(reversed(range(args[0].dim()))))


def _movedim(tr, args, kwargs, out):
    n = args[0].dim()
    src = _dims(_arg(args, kwargs, 1, "source"), n)
    dst = _dims(_arg(args, kwargs, 2, "destination"), n)
    order: list[int | None] = [None] * n
    for s, d in zip(src, dst, strict=True):
        order[d] = s
    rest = iter(i for i in range(n) if i not in src)
    return L.permute(tr.lay(args[0]), [o if o is not None else next(rest) for o in order])


def _expand(tr, args, kwargs, out):
    return L.merge([tr.lay(args[0])], tuple(out.shape))


def _getitem(tr, args, kwargs, out):
    x, index = args[0], args[1]
    index = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis for i in index):
        at = index.index(Ellipsis)
        used = sum(1 for i in index if i is not None and i is not Ellipsis)
        index = (*index[:at], *([slice(None)] * (x.dim() - used)), *index[at + 1 :])
    layout, dim = tr.lay(x), 0
    for i in index:
        if i is None:
            layout = L.unsqueeze(layout, dim)
            dim += 1
        elif isinstance(i, slice):
            start, stop, step = i.indices(layout.shape[dim])
            layout = L.take(layout, dim, start, stop, step)
            dim += 1
        elif isinstance(i, int) and not isinstance(i, bool):
            layout = L.select(layout, dim, i)
        else:
            raise L.CannotFollow("indexing with tensors, lists or masks")
    return layout


def _narrow(tr, args, kwargs, out):
    x = args[0]
    dim = _arg(args, kwargs, 1, "dim") % x.dim()
    start = _arg(args, kwargs, 2, "start") % max(x.shape[dim], 1)
    return L.take(tr.lay(x), dim, start, start + out.shape[dim])


def _select(tr, args, kwargs, out):
    x = args[0]
    return L.select(
        tr.lay(x), _arg(args, kwargs, 1, "dim") % x.dim(), _arg(args, kwargs, 2, "index")
    )


def _pieces(tr, args, kwargs, out):
    """split, chunk, tensor_split, split_with_sizes: consecutive slices along ``dim``."""
    x = args[0]
    dim = kwargs.get("dim", args[2] if len(args) > 2 else 0) % x.dim()
    result, offset = [], 0
    for piece in out:
        result.append(L.take(tr.lay(x), dim, offset, offset + piece.shape[dim]))
        offset += piece.shape[dim]
    return result


def _unbind(tr, args, kwargs, out):
    x = args[0]
    dim = _arg(args, kwargs, 1, "dim", 0) % x.dim()
    return [L.select(tr.lay(x), dim, i) for i in range(len(out))]


def _cat(tr, args, kwargs, out):
    tensors = [t for t in _arg(args, kwargs, 0, "tensors") if t.numel() or t.dim() > 1]
    dim = _arg(args, kwargs, 1, "dim", 0) % out.dim()
    return L.cat([tr.lay(t) for t in tensors], dim, tuple(out.shape))


def _stack(tr, args, kwargs, out):
    tensors = _arg(args, kwargs, 0, "tensors")
    dim = _arg(args, kwargs, 1, "dim", 0) % out.dim()
    return L.cat([L.unsqueeze(tr.lay(t), dim) for t in tensors], dim, tuple(out.shape))


def _flip(tr, args, kwargs, out):
    x = args[0]
    dims = _arg(args, kwargs, 1, "dims")
    dims = _dims(dims if dims is not None else (), x.dim()) if not isinstance(dims, int) else [dims]
    layout = tr.lay(x)
    for d in dims:
        n, a, ones = L._one_factor(layout, d % x.dim(), "flipping")
        if a is not None:
            a = L.Axis(a.axis, a.size, -a.jump, a.start + (n - 1) * a.jump)
        layout = L._set(layout, d % x.dim(), [(n, a), *ones])
    return layout


def _roll(tr, args, kwargs, out):
    x, dims = args[0], _arg(args, kwargs, 2, "dims")
    layout = tr.lay(x)
    for d in _dims(dims, x.dim()):
        if any(a for _, a in layout.dims[d]):
            raise L.CannotFollow("a circular shift (roll) along a spatial axis")
    return layout


def _mix(tr, args, kwargs, out):
    """softmax, cumsum, sort, normalize ...: each element sees the whole of ``dim``."""
    x, name = args[0], tr.current
    at = 2 if name == "normalize" else 1
    default = {"sort": -1, "argsort": -1, "normalize": 1}.get(name)
    dim = kwargs.get("dim", args[at] if len(args) > at else default)
    if dim is None:  # PyTorch's implicit softmax dimension
        dim = 0 if x.dim() in (0, 1, 3) else 1
    layout = L.mix(tr.lay(x), dim % max(x.dim(), 1))
    return [layout] * len(out) if isinstance(out, tuple | list) else layout


_REDUCTIONS = {
    "sum",
    "mean",
    "nansum",
    "nanmean",
    "amax",
    "amin",
    "max",
    "min",
    "prod",
    "std",
    "var",
    "std_mean",
    "var_mean",
    "logsumexp",
    "all",
    "any",
    "argmax",
    "argmin",
    "median",
    "nanmedian",
    "mode",
    "count_nonzero",
    "aminmax",
    "norm",
    "vector_norm",
}


def _reduction(tr, args, kwargs, out):
    x = args[0]
    if len(args) > 1 and isinstance(args[1], torch.Tensor):  # torch.max(a, b): elementwise
        return default(tr, args, kwargs, out)
    at = 2 if tr.current == "norm" else 1
    dim = kwargs.get("dim", kwargs.get("axis", args[at] if len(args) > at else None))
    if not isinstance(dim, int | Sequence):
        dim = None
    keepdim = kwargs.get("keepdim", args[at + 1] if len(args) > at + 1 else False)
    keepdim = keepdim is True
    first = out if isinstance(out, torch.Tensor) else out[0]
    dims = _dims(dim, x.dim()) if x.dim() else []
    if first.dim() != (x.dim() if keepdim else x.dim() - len(dims)):
        raise L.CannotFollow(f"a reduction from {tuple(x.shape)} to {tuple(first.shape)}")
    layout = L.reduce(tr.lay(x), dims, keepdim)
    return [layout] * len(out) if isinstance(out, tuple | list) else layout


def _conv(tr, args, kwargs, out):
    x, w = args[0], args[1]
    nd = w.dim() - 2
    stride = _arg(args, kwargs, 3, "stride", 1)
    padding = _arg(args, kwargs, 4, "padding", 0)
    dilation = _arg(args, kwargs, 5, "dilation", 1)
    return _torch_window(tr, x, out, w.shape[2:], stride, padding, dilation, nd, w.shape[0])


def _conv_transpose(tr, args, kwargs, out):
    """``conv_transpose{1,2,3}d(input, weight, bias, stride, padding, output_padding,
    groups, dilation)``: PyTorch's padding ``p`` is the left padding of the convolution
    whose adjoint it is."""
    x, w = args[0], args[1]
    nd = w.dim() - 2

    def per_axis(v: Any) -> tuple[int, ...]:
        return tuple(v) if isinstance(v, Sequence) else (v,) * nd

    stride = per_axis(_arg(args, kwargs, 3, "stride", 1))
    padding = per_axis(_arg(args, kwargs, 4, "padding", 0))
    groups = _arg(args, kwargs, 6, "groups", 1)
    dilation = per_axis(_arg(args, kwargs, 7, "dilation", 1))
    return L.transposed_window(
        tr.lay(x),
        tuple(w.shape[2:]),
        stride,
        dilation,
        padding,
        tuple(out.shape[-nd:]),
        w.shape[1] * groups,
    )


def _torch_window(tr, x, out, kernel, stride, padding, dilation, nd, channels=None):
    """A torch convolution or pooling: padding int/tuple/'same'/'valid' as anyconv's rules
    (PyTorch's ``"same"`` is anyconv's at stride 1, the only stride it allows)."""

    def per_axis(v: Any) -> tuple[int, ...]:
        return tuple(v) if isinstance(v, Sequence) else (v,) * nd

    kernel = per_axis(kernel)
    stride = per_axis(stride or kernel)  # pooling: stride None (or []) means the kernel
    dilation = per_axis(dilation)
    if isinstance(padding, Sequence) and not isinstance(padding, str):
        padding = tuple(padding)
    pads = resolve_padding(
        tuple(x.shape[-nd:]), kernel, stride=stride, padding=padding, dilation=dilation
    )
    return L.window(
        tr.lay(x),
        kernel,
        stride,
        dilation,
        [lo for lo, _ in pads],
        tuple(out.shape[-nd:]),
        channels,
    )


def _max_pool(tr, args, kwargs, out):
    x = args[0]
    first = out if isinstance(out, torch.Tensor) else out[0]
    nd = int(tr.current[8])
    layout = _torch_window(
        tr,
        x,
        first,
        _arg(args, kwargs, 1, "kernel_size"),
        _arg(args, kwargs, 2, "stride"),
        _arg(args, kwargs, 3, "padding", 0),
        _arg(args, kwargs, 4, "dilation", 1),
        nd,
    )
    return [layout, layout] if isinstance(out, tuple | list) else layout


def _avg_pool(tr, args, kwargs, out):
    nd = int(tr.current[8])
    return _torch_window(
        tr,
        args[0],
        out,
        _arg(args, kwargs, 1, "kernel_size"),
        _arg(args, kwargs, 2, "stride"),
        _arg(args, kwargs, 3, "padding", 0),
        1,
        nd,
    )


def _lp_pool(tr, args, kwargs, out):
    nd = int(tr.current[7])
    return _torch_window(
        tr,
        args[0],
        out,
        _arg(args, kwargs, 2, "kernel_size"),
        _arg(args, kwargs, 3, "stride"),
        0,
        1,
        nd,
    )


def _adaptive(tr, args, kwargs, out):
    x = args[0]
    first = out if isinstance(out, torch.Tensor) else out[0]
    nd = int(tr.current[-2])
    layout = tr.lay(x)
    start = x.dim() - nd
    notes = list(layout.notes)
    for i in range(nd):
        n, o = x.shape[start + i], first.shape[start + i]
        lows = [(j * n) // o for j in range(o)]
        highs = [-(-((j + 1) * n) // o) for j in range(o)]
        longest = max(h - lo for lo, h in zip(lows, highs, strict=True))
        _, a, ones = L._one_factor(layout, start + i, "adaptive pooling")
        if a is not None:
            size = a.size + (longest - 1) * abs(a.jump)
            a = L.Axis(a.axis, size, a.jump * n / o, a.start + (highs[0] - 1) / 2 * a.jump)
            if n % o:
                notes.append(
                    f"adaptive pooling from {n} to {o} uses windows of different lengths; "
                    "the longest is taken"
                )
        layout = L._set(layout, start + i, [(o, a), *ones])
    layout = L.Layout(layout.dims, layout.covered, tuple(notes))
    return [layout, layout] if isinstance(out, tuple | list) else layout


_REACH = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 1, "trilinear": 1}


def _interpolate(tr, args, kwargs, out):
    """Resampling: output ``o`` reads the input near ``x(o) = o * ratio`` (nearest) or
    ``(o + 1/2) * ratio - 1/2`` (linear, bicubic); the samples it reads lie within
    ``reach`` of ``x(o)`` on each side (1 for linear, 2 for bicubic; nearest reads the one
    sample in ``[x - 1, x]``). The grid of fields is then irregular, so the field reported
    is one that contains every position's: an upper bound."""
    x = args[0]
    mode = _arg(args, kwargs, 3, "mode", "nearest")
    align = bool(_arg(args, kwargs, 4, "align_corners", False))
    if mode == "area":
        tr.current = "adaptive_pool" + str(x.dim() - 2) + "d"
        return _adaptive(tr, (x,), {}, out)
    layout = tr.lay(x)
    notes = list(layout.notes)
    for d in range(2, x.dim()):
        n, m = x.shape[d], out.shape[d]
        _, a, ones = L._one_factor(layout, d, "interpolation")
        if a is not None and n != m:
            ratio = (n - 1) / (m - 1) if align and m > 1 else n / m
            if mode in ("nearest", "nearest-exact"):
                first = 0.5 * ratio if mode == "nearest-exact" else 0.0
                size, centre = a.size + abs(a.jump), first - 0.5
            else:
                reach = _REACH.get(mode, 2)  # bicubic reads 2 samples on either side
                first = 0.0 if align else 0.5 * ratio - 0.5
                size, centre = a.size + 2 * reach * abs(a.jump), first
            a = L.Axis(a.axis, size, a.jump * ratio, a.start + centre * a.jump)
            note = (
                "after resampling (interpolation) the fields are irregular; the sizes given "
                "are upper bounds"
            )
            if note not in notes:
                notes.append(note)
        layout = L._set(layout, d, [(m, a), *ones])
    return L.Layout(layout.dims, layout.covered, tuple(notes))


def _pad(tr, args, kwargs, out):
    x, amounts = args[0], list(_arg(args, kwargs, 1, "pad"))
    pairs = [(amounts[i], amounts[i + 1]) for i in range(0, len(amounts), 2)]
    return L.pad(tr.lay(x), list(reversed(pairs)))


def _linear(tr, args, kwargs, out):
    x = args[0]
    layout = L.unsqueeze(L.reduce(tr.lay(x), [x.dim() - 1], keepdim=False), x.dim() - 1)
    return L.merge([layout], tuple(out.shape))


def _matmul(tr, args, kwargs, out):
    a, b = args[0], args[1]
    if tr.current == "__rmatmul__":
        a, b = b, a
    if a.dim() < 2 or b.dim() < 2:
        raise L.CannotFollow("a matrix product with a vector")
    return L.contract(tr.lay(a), tr.lay(b), tuple(out.shape))


def _addmm(tr, args, kwargs, out):
    product = L.contract(tr.lay(args[1]), tr.lay(args[2]), tuple(out.shape))
    return L.merge([product, tr.lay(args[0])], tuple(out.shape))


def _unfold(tr, args, kwargs, out):
    """``Tensor.unfold(dim, size, step)``: sliding windows along ``dim`` (new last dim)."""
    x = args[0]
    dim = _arg(args, kwargs, 1, "dimension") % x.dim()
    size, step = _arg(args, kwargs, 2, "size"), _arg(args, kwargs, 3, "step")
    layout = tr.lay(x)
    _, a, ones = L._one_factor(layout, dim, "unfold")
    layout = L._set(layout, dim, [(out.shape[dim], a and a.window(size, step, 1, 0)), *ones])
    return L.Layout((*layout.dims, ((size, None),)), layout.covered, layout.notes)


def _cast(tr, args, kwargs, out):
    """``x.to(...)``, ``x.type_as(y)``: the values of ``x`` alone, in another dtype or on
    another device (``y`` gives only those); a constant cast like a traced tensor stays a
    constant."""
    x = args[0]
    return tr.lay(x) if tr.get(x) is not None else None


def _unknown_mixing(tr, args, kwargs, out):
    raise L.CannotFollow("it moves elements between spatial positions")


CONSTANT = {
    "zeros_like",
    "ones_like",
    "empty_like",
    "full_like",
    "rand_like",
    "randn_like",
    "randint_like",
    "new_zeros",
    "new_ones",
    "new_empty",
    "new_full",
    "new_tensor",
}

RULES: dict[str, Callable] = {
    **dict.fromkeys(
        (
            "view",
            "reshape",
            "flatten",
            "unflatten",
            "squeeze",
            "unsqueeze",
            "view_as",
            "reshape_as",
            "ravel",
        ),
        _reshape,
    ),
    "permute": _permute,
    **dict.fromkeys(("transpose", "swapaxes", "swapdims"), _transpose),
    **dict.fromkeys(("t", "mT", "mH", "adjoint"), _matrix_t),
    "T": _reverse,
    **dict.fromkeys(("movedim", "moveaxis"), _movedim),
    **dict.fromkeys(("expand", "expand_as", "broadcast_to"), _expand),
    "__getitem__": _getitem,
    "narrow": _narrow,
    "select": _select,
    **dict.fromkeys(("split", "chunk", "tensor_split", "split_with_sizes"), _pieces),
    "unbind": _unbind,
    **dict.fromkeys(("cat", "concat", "concatenate"), _cat),
    "stack": _stack,
    "flip": _flip,
    "roll": _roll,
    **dict.fromkeys(
        (
            "softmax",
            "log_softmax",
            "softmin",
            "cumsum",
            "cumprod",
            "cummax",
            "cummin",
            "logcumsumexp",
            "sort",
            "argsort",
            "normalize",
        ),
        _mix,
    ),
    **dict.fromkeys(_REDUCTIONS, _reduction),
    **dict.fromkeys(("conv1d", "conv2d", "conv3d"), _conv),
    **dict.fromkeys(("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"), _conv_transpose),
    **dict.fromkeys(
        (
            "max_pool1d",
            "max_pool2d",
            "max_pool3d",
            "max_pool1d_with_indices",
            "max_pool2d_with_indices",
            "max_pool3d_with_indices",
        ),
        _max_pool,
    ),
    **dict.fromkeys(("avg_pool1d", "avg_pool2d", "avg_pool3d"), _avg_pool),
    **dict.fromkeys(("lp_pool1d", "lp_pool2d", "lp_pool3d"), _lp_pool),
    **dict.fromkeys(
        (f"adaptive_{k}_pool{d}d" for k in ("avg", "max") for d in (1, 2, 3)), _adaptive
    ),
    **dict.fromkeys(("interpolate", "upsample"), _interpolate),
    "pad": _pad,
    "linear": _linear,
    **dict.fromkeys(("matmul", "mm", "bmm", "__matmul__", "__rmatmul__"), _matmul),
    **dict.fromkeys(("addmm", "baddbmm"), _addmm),
    "unfold": _unfold,
    **dict.fromkeys(("to", "type_as"), _cast),
    **dict.fromkeys(
        (
            "rot90",
            "fliplr",
            "flipud",
            "pixel_shuffle",
            "pixel_unshuffle",
            "grid_sample",
            "fold",
            "einsum",
            "index_select",
            "gather",
            "take_along_dim",
            "repeat",
            "tile",
            "repeat_interleave",
            "topk",
            "kthvalue",
        ),
        _unknown_mixing,
    ),
}
