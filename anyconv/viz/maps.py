"""First-layer filters and feature maps of 1-D, 2-D and 3-D convolutional networks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from anyconv._spec import fail
from anyconv.viz._figure import grid, new_figure, save


def _conv_like(module: torch.nn.Module) -> bool:
    name = type(module).__name__
    return (
        isinstance(module, torch.nn.modules.conv._ConvNd) or "Conv" in name or "Connected" in name
    )


def conv_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The innermost convolution-like modules (torch ``ConvNd``, anyconv's convolution,
    locally connected and tiled layers): a container such as a depthwise-separable block
    gives way to the convolutions inside it."""
    found = [(n, m) for n, m in model.named_modules() if _conv_like(m)]
    return [
        (n, m) for n, m in found if not any(o is not m and o in set(m.modules()) for _, o in found)
    ]


@torch.no_grad()
def activations(
    model: torch.nn.Module, x: torch.Tensor, max_layers: int = 3
) -> list[tuple[str, torch.Tensor]]:
    """Outputs ``(C, *spatial)`` of the first ``max_layers`` convolution layers in the
    order they run, for one sample ``x (C, *spatial)``, via forward hooks."""
    layers = conv_layers(model)
    if not layers:
        raise fail(
            "activations",
            "model",
            "a model with at least one convolution layer",
            type(model).__name__,
            TypeError,
        )
    seen: list[tuple[str, torch.Tensor]] = []
    names = {id(m): n for n, m in layers}

    def hook(module: torch.nn.Module, _: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and len(seen) < max_layers:
            seen.append((names[id(module)], output[0].detach().float().cpu()))

    handles = [m.register_forward_hook(hook) for _, m in layers]
    param = next(model.parameters(), None)
    was_training = model.training
    try:
        model.eval()
        model(x.unsqueeze(0).to(param.device if param is not None else "cpu"))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return seen


def first_conv_weight(model: torch.nn.Module, x: torch.Tensor | None = None) -> torch.Tensor:
    """Kernels ``(O, I, *kernel)`` of the first convolution that runs on ``x (C, *spatial)``
    (or, without ``x``, the first one registered). Locally connected and tiled layers, whose
    weights add the positions or tile period after the kernel, give their first position."""
    layers = conv_layers(model)
    if x is not None:
        ran = [name for name, _ in activations(model, x, max_layers=len(layers))]
        by_name = dict(layers)
        layers = [(n, by_name[n]) for n in ran]
    for _, module in layers:
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.ndim >= 3:
            weight = weight.detach().float().cpu()
            spatial = x.ndim - 1 if x is not None else None
            if spatial and weight.ndim == 2 + 2 * spatial:
                weight = weight[(..., *([0] * spatial))]
            return weight
    raise fail(
        "first_conv_weight",
        "model",
        "a model with a convolution weight (O, I, *k)",
        type(model).__name__,
        TypeError,
    )


def plot_filters(
    weight: torch.Tensor, path: str | Path, max_filters: int = 64, temporal: str = "middle"
) -> Path:
    """Kernels of a convolution layer as a grid, one panel per output channel.

    Args:
        weight: ``(O, I, k)`` 1-D kernels, drawn as one line per input channel (at most 8);
            ``(O, I, kh, kw)`` 2-D kernels, drawn as images: colour when ``I == 3``,
            else the mean over input channels, on a symmetric colour scale;
            ``(O, I, kt, kh, kw)`` 3-D kernels: the middle temporal slice
            (``temporal="middle"``) or every slice in a row per filter (``"all"``).
        path: where to write the picture.
        max_filters: at most this many output channels are drawn.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_filters(torch.randn(6, 1, 5, 5), f"{d}/f.png")) > 0
        True
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim not in (3, 4, 5):
        raise fail(
            "plot_filters",
            "weight",
            "a tensor (O, I, *kernel) with 1-3 kernel axes",
            weight,
            TypeError if not isinstance(weight, torch.Tensor) else ValueError,
        )
    if temporal not in ("middle", "all"):
        raise fail("plot_filters", "temporal", "'middle' or 'all'", temporal)
    weight = weight.detach().float().cpu()[:max_filters]
    if weight.ndim == 5 and temporal == "middle":
        weight = weight[:, :, weight.shape[2] // 2]
    if weight.ndim == 5:
        return _filters_3d(weight, path)
    rows, cols = grid(len(weight))
    fig = new_figure(1.4 * cols + 0.5, 1.4 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i >= len(weight):
            ax.axis("off")
            continue
        if weight.ndim == 3:
            for line in weight[i, :8]:
                ax.plot(line.numpy(), linewidth=1)
            ax.set_xticks([])
            ax.tick_params(labelsize=6)
        else:
            _kernel_image(ax, weight[i])
        ax.set_title(str(i), fontsize=7)
    fig.suptitle(f"filters {tuple(weight.shape)}")
    return save(fig, path)


def _kernel_image(ax: Any, kernel: torch.Tensor) -> None:
    """``kernel (I, kh, kw)`` as an RGB image (I == 3) or the channel mean in a diverging
    map centred on zero, so sign is visible."""
    if kernel.shape[0] == 3:
        low, high = kernel.min(), kernel.max()
        ax.imshow(((kernel - low) / (high - low + 1e-12)).permute(1, 2, 0).numpy())
    else:
        image = kernel.mean(0)
        limit = image.abs().max().item() or 1.0
        ax.imshow(image.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_xticks([])
    ax.set_yticks([])


def _filters_3d(weight: torch.Tensor, path: str | Path) -> Path:
    weight = weight[:16]
    rows, cols = len(weight), weight.shape[2]
    fig = new_figure(1.2 * cols + 1, 1.2 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i in range(rows):
        for t in range(cols):
            _kernel_image(axes[i, t], weight[i, :, t])
            if i == 0:
                axes[i, t].set_title(f"t={t}", fontsize=7)
        axes[i, 0].set_ylabel(str(i), fontsize=7)
    fig.suptitle(f"filters {tuple(weight.shape)}, one row per filter")
    return save(fig, path)


def plot_feature_maps(
    model: torch.nn.Module,
    x: torch.Tensor,
    path: str | Path,
    max_layers: int = 3,
    max_channels: int = 8,
) -> Path:
    """The input and the activations of the first convolution layers for one sample.

    One row for the input and one per layer (forward hooks, in the order the layers
    run), one panel per channel: images for 2-D maps, the middle frame for 3-D (video)
    maps, a line for 1-D maps.

    Args:
        model: a network containing convolution layers.
        x: one sample ``(C, *spatial)`` with 1-3 spatial axes (or ``(1, C, *spatial)``).
        path: where to write the picture.
        max_layers: how many convolution layers to show.
        max_channels: channels shown per row.

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.path.getsize(plot_feature_maps(net, torch.randn(1, 8, 8), f"{d}/m.png")) > 0
        True
    """
    if not isinstance(x, torch.Tensor) or x.ndim not in (2, 3, 4, 5):
        raise fail(
            "plot_feature_maps",
            "x",
            "one sample (C, *spatial) with 1-3 spatial axes",
            x,
            TypeError if not isinstance(x, torch.Tensor) else ValueError,
        )
    if x.shape[0] == 1 and x.ndim == _spatial_dims(model, x.ndim) + 2:
        x = x[0]  # a batch of one
    rows = [("input", x.detach().float().cpu()), *activations(model, x, max_layers)]
    cols = min(max_channels, max(len(maps) for _, maps in rows))
    fig = new_figure(1.5 * cols + 1, 1.5 * len(rows) + 0.5)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for r, (name, maps) in enumerate(rows):
        for c in range(cols):
            ax = axes[r, c]
            if c >= len(maps):
                ax.axis("off")
                continue
            channel = maps[c]
            if channel.ndim == 3:  # video: the middle frame
                channel = channel[channel.shape[0] // 2]
            if channel.ndim == 1:
                ax.plot(channel.numpy(), linewidth=1)
                ax.tick_params(labelsize=6)
            else:
                ax.imshow(channel.numpy(), cmap="viridis")
                ax.set_xticks([])
                ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"{name}\n{tuple(maps.shape)}", fontsize=7)
    fig.suptitle("feature maps")
    return save(fig, path)


def _spatial_dims(model: torch.nn.Module, ndim: int) -> int:
    """Spatial axes the first convolution works on, read from its ``kernel_size``; when the
    layer does not say, ``ndim - 1`` (``x`` taken as one unbatched sample) -- or 3 for 5-D."""
    layers = conv_layers(model)
    kernel = getattr(layers[0][1], "kernel_size", None) if layers else None
    if isinstance(kernel, tuple | list):
        return len(kernel)
    return 3 if ndim == 5 else ndim - 1
