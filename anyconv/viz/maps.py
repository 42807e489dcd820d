"""Feature maps of every convolution layer of a network, for one sample: the hierarchy from
edges to parts, before or after each layer's activation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from anyconv._checks import choice, fail
from anyconv.viz._figure import mosaic, new_figure, save

STAGES = ("post", "pre")
_ACTIVATIONS = {
    "relu",
    "relu_",
    "relu6",
    "leaky_relu",
    "leaky_relu_",
    "gelu",
    "silu",
    "mish",
    "tanh",
    "tanh_",
    "sigmoid",
    "sigmoid_",
    "elu",
    "elu_",
    "selu",
    "celu",
    "hardtanh",
    "hardtanh_",
    "hardswish",
    "hardsigmoid",
    "softplus",
    "prelu",
    "rrelu",
    "threshold",
}
# between a convolution and its activation: these keep each value's position
_PASS = {
    "batch_norm",
    "instance_norm",
    "group_norm",
    "layer_norm",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
    "contiguous",
    "clone",
    "detach",
    "to",
}


def _conv_like(module: torch.nn.Module) -> bool:
    name = type(module).__name__
    return (
        isinstance(module, torch.nn.modules.conv._ConvNd) or "Conv" in name or "Connected" in name
    )


def conv_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The innermost convolution-like modules (torch ``ConvNd``, anyconv's convolution,
    locally connected and tiled layers): a container such as a depthwise-separable block
    gives way to the convolutions inside it.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())
        >>> [name for name, _ in conv_layers(net)]
        ['0']
    """
    found = [(n, m) for n, m in model.named_modules() if _conv_like(m)]
    return [
        (n, m) for n, m in found if not any(o is not m and o in set(m.modules()) for _, o in found)
    ]


@dataclass
class FeatureMap:
    """One convolution layer's output for one sample.

    Attributes:
        name: the module's name in ``model.named_modules()``.
        kind: the module's class name.
        maps: ``(C, *spatial)`` with the spatial axes in the input's order (frames that a
            network folded into the batch are put back as an axis).
        stage: ``"post"`` (after the activation that follows the layer), or ``"pre"``.
        activation: the activation function's name, or ``""`` (none follows: ``maps`` is
            the layer's output).
        field: the receptive field size of one position per input axis (``None`` if it
            could not be followed).
        field_note: what the field approximates (e.g. an upper bound after resampling).
    """

    name: str
    kind: str
    maps: torch.Tensor
    stage: str
    activation: str = ""
    field: tuple[float, ...] | None = None
    field_note: str = ""


class _Capture(TorchFunctionMode):
    """Follows each convolution's output through normalisation and dropout to the first
    activation function applied to it."""

    def __init__(self) -> None:
        super().__init__()
        self.chain: dict[int, tuple[torch.Tensor, str]] = {}
        self.post: dict[str, tuple[torch.Tensor, str]] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not (args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor)):
            return out
        entry = self.chain.get(id(args[0]))
        if entry is None or entry[0] is not args[0] or out.shape != args[0].shape:
            return out
        name = getattr(func, "__name__", "")
        if name in _ACTIVATIONS and entry[1] not in self.post:
            self.post[entry[1]] = (out.detach().clone(), name.rstrip("_"))
        elif name in _PASS:
            self.chain[id(out)] = (out, entry[1])
        return out


def _batch(model: torch.nn.Module, x: torch.Tensor, func: str) -> tuple[torch.Tensor, list]:
    """``x`` as a batch of one, and the trace of the model on it: ``x`` is taken as one
    sample ``(C, *spatial)`` if the model accepts that, else as a batch of one."""
    from anyconv.analysis.trace import trace

    if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3, 4, 5):
        raise fail(
            func,
            "x",
            "one sample (C, *spatial) with 1-3 spatial axes (or a batch of one)",
            x,
            TypeError if not isinstance(x, torch.Tensor) else ValueError,
        )
    x = x.detach().float()
    try:
        return x.unsqueeze(0), trace(model, tuple(x.shape), func=func)
    except Exception:
        if x.shape[0] != 1:
            raise
    return x, trace(model, tuple(x.shape[1:]), func=func)


def _as_sample(y: torch.Tensor, layout: Any) -> torch.Tensor:
    """A batch-of-one output as ``(C, *spatial)``: the dimensions that carry the input's
    axes in the input's order, the others merged into channels."""
    plain = layout.plain() if layout is not None else {}
    if not plain:
        return y[0]
    spatial = [plain[a][0] for a in sorted(plain)]
    rest = [d for d in range(y.dim()) if d not in spatial]
    y = y.permute(*rest, *spatial)
    return y.reshape(-1, *y.shape[len(rest) :])


@torch.no_grad()
def feature_maps(
    model: torch.nn.Module,
    x: torch.Tensor,
    *,
    stage: str = "post",
    max_layers: int | None = None,
) -> list[FeatureMap]:
    """The output of every convolution layer for one sample, in the order they run.

    Args:
        model: a network containing convolution layers (any ``torch.nn.Module``).
        x: one sample ``(C, *spatial)`` (or a batch of one).
        stage: ``"post"``: after the activation function that follows each convolution
            (through batch normalisation and dropout, module or functional); a layer
            that no activation follows gives its own output. ``"pre"``: the convolution's
            output.
        max_layers: at most this many layers (default all).

    Returns:
        one :class:`FeatureMap` per convolution layer that ran (its first call).

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(),
        ...                           torch.nn.Conv2d(4, 2, 3))
        >>> [(m.name, tuple(m.maps.shape), m.activation) for m in feature_maps(net,
        ...     torch.randn(1, 8, 8))]
        [('0', (4, 6, 6), 'relu'), ('2', (2, 4, 4), '')]
    """
    from anyconv.analysis.receptive import field_of

    func = "feature_maps"
    choice(stage, STAGES, "stage", func)
    layers = conv_layers(model)
    if not layers:
        raise fail(
            func,
            "model",
            "a model with at least one convolution layer",
            type(model).__name__,
            TypeError,
        )
    batch, calls = _batch(model, x, func)
    layouts = {}
    for call in calls:
        layouts.setdefault(call.name, call.layout)
    capture = _Capture()
    pre: dict[str, torch.Tensor] = {}

    def hook(name: str) -> Any:
        def keep(_m: Any, _a: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor) and name not in pre:
                pre[name] = out.detach().clone()
                capture.chain[id(out)] = (out, name)

        return keep

    handles = [m.register_forward_hook(hook(n)) for n, m in layers]
    param = next(model.parameters(), None)
    training = model.training
    try:
        model.eval()
        with capture:
            model(batch.to(param.device if param is not None else "cpu"))
    finally:
        model.train(training)
        for h in handles:
            h.remove()
    naxes = batch.dim() - 2
    result = []
    modules = dict(layers)
    for name in pre:
        tensor, activation = pre[name], ""
        if stage == "post" and name in capture.post:
            tensor, activation = capture.post[name]
        field = field_of(layouts.get(name), naxes)
        result.append(
            FeatureMap(
                name,
                type(modules[name]).__name__,
                _as_sample(tensor.float().cpu(), layouts.get(name)),
                stage,
                activation,
                field.size if field else None,
                field.note if field else "",
            )
        )
    return result[:max_layers]


def activations(
    model: torch.nn.Module, x: torch.Tensor, max_layers: int | None = None, *, stage: str = "post"
) -> list[tuple[str, torch.Tensor]]:
    """``(name, maps (C, *spatial))`` of the convolution layers for one sample ``x``, in
    the order they run; see :func:`feature_maps`.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3), torch.nn.ReLU())
        >>> [(n, tuple(m.shape)) for n, m in activations(net, torch.randn(2, 10))]
        [('0', (3, 8))]
    """
    return [(m.name, m.maps) for m in feature_maps(model, x, stage=stage, max_layers=max_layers)]


def _predicted(model: torch.nn.Module, batch: torch.Tensor, names: Any) -> str | None:
    """``"predicted X (p = 0.97)"`` when the model returns logits ``(1, K)``."""
    param = next(model.parameters(), None)
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            out = model(batch.to(param.device if param is not None else "cpu"))
    finally:
        model.train(training)
    if not (isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == 1):
        return None
    probs = out[0].float().softmax(0)
    k = int(probs.argmax())
    label = names[k] if names and k < len(names) else str(k)
    return f"predicted {label} (p = {float(probs[k]):.2f})"


def _scale(maps: torch.Tensor, signed: bool) -> tuple[str, float, float]:
    """Colour map and limits shared by a row: diverging around 0 for signed values."""
    if signed:
        limit = float(maps.abs().max()) or 1.0
        return "RdBu_r", -limit, limit
    lo, hi = float(maps.min()), float(maps.max())
    return "viridis", lo, hi if hi > lo else lo + 1.0


def _axes_text(values: Any) -> str:
    return "x".join(f"{v:.3g}" for v in values)


LABEL_CHARS = 34  # a row label's lines are wrapped at this many characters
LABEL_POINTS = 7


def _as_lines(values: torch.Tensor, naxes: int, label: str) -> bool:
    """A sequence input of at most 3 channels is drawn as lines, one per channel."""
    return naxes == 1 and label.startswith("input") and len(values) <= 3


def _video_frames(values: torch.Tensor, cols: int) -> tuple[int, list[int]]:
    """The channel of ``values (C, T, H, W)`` shown (the most active) and its time steps
    shown (all, or ``cols`` spread evenly)."""
    channel = int(values.flatten(1).abs().mean(1).argmax())
    steps = list(range(values.shape[1]))
    if len(steps) > cols:
        steps = [round(i * (len(steps) - 1) / (cols - 1)) for i in range(cols)]
    return channel, steps


def _row_note(values: torch.Tensor, naxes: int, cols: int, label: str = "") -> str:
    """What a row shows of ``values (C, *spatial)``: which channels or time steps."""
    if naxes == 1:
        if _as_lines(values, naxes, label):
            return f"{len(values)} channel{'s' if len(values) > 1 else ''} (lines)"
        return f"all {values.shape[0]} channels (rows)\nagainst position (columns)"
    if naxes == 3:
        channel, steps = _video_frames(values, cols)
        # "all 10 time steps", never "every 10 time steps" (which reads as every 10th)
        which = "all" if len(steps) == values.shape[1] else f"{len(steps)} of the"
        return (
            f"channel {channel} (most active of {values.shape[0]}),\n{which} "
            f"{values.shape[1]} time steps"
        )
    count = min(cols, len(values))
    if count < len(values):
        return f"first {count} of {len(values)} channels"
    return f"all {len(values)} channels" if len(values) > 1 else "1 channel"


def plot_feature_maps(
    model: torch.nn.Module,
    x: torch.Tensor,
    path: str | Path,
    max_layers: int | None = None,
    max_channels: int = 8,
    *,
    stage: str = "post",
    title: str = "",
    class_names: Any = None,
    target: int | None = None,
) -> Path:
    """The input and the feature maps of every convolution layer for one sample.

    One row for the input and one per convolution layer, in the order they run, each
    with its own colour bar. Images (2-D maps): the first ``max_channels`` channels, one
    panel each. Sequences (1-D): all channels as one image, channels against position.
    Videos (3-D): every time step of the layer's most active channel. Row labels give the
    layer, its output shape, whether the maps are taken before or after the activation
    (and which), the receptive field of one position, and how many channels are shown.

    Args:
        model: a network containing convolution layers.
        x: one sample ``(C, *spatial)`` with 1-3 spatial axes (or a batch of one).
        path: where to write the picture.
        max_layers: how many convolution layers to show (default all).
        max_channels: channels shown per image row.
        stage: ``"post"`` (after each layer's activation) or ``"pre"``.
        title: what the picture shows, e.g. ``"lenet5 trained on digits"``.
        class_names: names of the model's classes, for the predicted class.
        target: the sample's true class, shown with the model's prediction.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_feature_maps(net, torch.randn(1, 8, 8), f"{d}/m.png")) > 0
        True
    """
    func = "plot_feature_maps"
    maps = feature_maps(model, x, stage=stage, max_layers=max_layers)
    batch, _ = _batch(model, x, func)
    sample = batch[0].cpu()
    naxes = sample.dim() - 1
    rows: list[tuple[str, torch.Tensor, bool]] = [
        (f"input\n{_axes_text(sample.shape)}", sample, bool(sample.min() < 0))
    ]
    for m in maps:
        if m.stage == "pre" or not m.activation:
            when = "layer output (no activation follows)" if m.stage == "post" else "pre-activation"
        else:
            when = f"after {m.activation}"
        bound = "at most " if "upper bound" in m.field_note else ""
        field = f"\nreceptive field {bound}{_axes_text(m.field)}" if m.field else ""
        label = f"{m.name} {m.kind}\n{_axes_text(m.maps.shape)}, {when}{field}"
        rows.append((label, m.maps, bool(m.maps.min() < 0)))
    cols = 1
    if naxes == 3:
        cols = min(12, max(r[1].shape[1] for r in rows))
    elif naxes == 2:
        cols = min(max_channels, max(r[1].shape[0] for r in rows))
    # each row's label in a column of its own, as wide as the longest wrapped line, so
    # that no label reaches past the figure's edge however long the layer names are
    labels = [
        _wrap(f"{label}\n{_row_note(values, naxes, cols, label)}", LABEL_CHARS)
        for label, values, _ in rows
    ]
    label_width = max(len(line) for text in labels for line in text.split("\n"))
    label_inches = 0.08 + label_width * LABEL_POINTS * 0.6 / 72
    content = 7.0 if naxes == 1 else 1.2 * cols + 0.8
    fig = new_figure(label_inches + content, 1.5 * len(rows) + 1.2)
    grid_axes = fig.subplots(
        len(rows), 2, squeeze=False, gridspec_kw={"width_ratios": [label_inches, content]}
    )
    for (label_ax, ax), text, (label, values, signed) in zip(grid_axes, labels, rows, strict=True):
        label_ax.set_axis_off()
        label_ax.text(
            1.0,
            0.5,
            text,
            transform=label_ax.transAxes,
            fontsize=LABEL_POINTS,
            ha="right",
            va="center",
        )
        cmap, lo, hi = _scale(values, signed)
        shown = None
        if _as_lines(values, naxes, label):
            for line in values:
                ax.plot(line.numpy(), linewidth=1)
            ax.set_xlim(-0.5, values.shape[1] - 0.5)
            ax.tick_params(labelsize=6)
        elif naxes == 1:
            shown = ax.imshow(
                values.numpy(), cmap=cmap, vmin=lo, vmax=hi, aspect="auto", interpolation="nearest"
            )
            ax.set_yticks(range(0, values.shape[0], max(1, values.shape[0] // 4)))
            ax.set_xticks(range(0, values.shape[1], max(1, values.shape[1] // 8)))
            ax.tick_params(labelsize=6)
        elif naxes == 3:
            channel, steps = _video_frames(values, cols)
            tiles = [values[channel, t].numpy() for t in steps]
            shown = mosaic(ax, tiles, [f"t={t}" for t in steps], cols, cmap=cmap, lo=lo, hi=hi)
        else:
            count = min(cols, len(values))
            tiles = [v.numpy() for v in values[:count]]
            names = [f"channel {c}" for c in range(count)]
            shown = mosaic(ax, tiles, names, cols, cmap=cmap, lo=lo, hi=hi)
        if shown is not None:
            bar = fig.colorbar(shown, ax=ax, shrink=0.9, pad=0.01, aspect=12)
            bar.ax.tick_params(labelsize=6)
    what = "after each layer's activation" if stage == "post" else "before the activations"
    heading = f"{title}: feature maps" if title else "feature maps"
    lines = [f"{heading} of every convolution layer, {what}, for one sample"]
    facts = []
    if target is not None:
        label = class_names[target] if class_names and target < len(class_names) else target
        facts.append(f"true class {label}")
    predicted = _predicted(model, batch, class_names)
    if predicted:
        facts.append(predicted)
    if facts:
        lines.append(", ".join(facts))
    width = fig.get_figwidth()
    fig.suptitle("\n".join(_wrap(line, int(width * 13.5)) for line in lines), fontsize=10)
    return save(fig, path)


def _wrap(text: str, width: int) -> str:
    r"""``text`` with each of its lines wrapped at ``width`` characters.

    Example:
        >>> print(_wrap("a long line of words\nshort", 10))
        a long
        line of
        words
        short
    """
    import textwrap

    return "\n".join(
        "\n".join(textwrap.wrap(line, width, break_on_hyphens=False)) or line
        for line in text.split("\n")
    )
