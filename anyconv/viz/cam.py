"""Class activation maps (Zhou et al. 2016, "Learning deep features for discriminative
localization"; for time series, Wang, Yan and Oates 2017): where in the input a network
that ends in global average pooling and a linear classifier finds the evidence for a class.

With last feature maps ``A_c(t)`` and classifier weights ``w_kc``, the map of class ``k``
is ``CAM_k(t) = sum_c w_kc A_c(t)``. Global average pooling is linear, so the mean of
``CAM_k`` over ``t`` plus the bias ``b_k`` is exactly the logit of class ``k``: the map
splits the class score among the time steps (or pixels).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from anyconv._checks import fail
from anyconv.viz._figure import grid, new_figure, save


def supports_cam(model: torch.nn.Module) -> bool:
    """Whether ``model`` has the structure CAM needs: ``features`` (a module giving
    ``(N, C, *spatial)``) read by ``classifier``, a ``torch.nn.Linear`` on the globally
    averaged ``C`` features (as :class:`~anyconv.models.FCN` and
    :class:`~anyconv.models.ResNet1d`).

    Example:
        >>> from anyconv.models import FCN
        >>> supports_cam(FCN()), supports_cam(torch.nn.Linear(2, 2))
        (True, False)
    """
    return isinstance(getattr(model, "features", None), torch.nn.Module) and isinstance(
        getattr(model, "classifier", None), torch.nn.Linear
    )


@torch.no_grad()
def class_activation_maps(
    model: torch.nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The class activation maps of every class, and the logits.

    Args:
        model: a network for which :func:`supports_cam` holds.
        x: inputs ``(N, C, *spatial)``.

    Returns:
        ``(maps, logits)``: maps ``(N, K, *spatial')`` at the resolution of the last
        feature maps (the input's, for the FCN), and logits ``(N, K)``; the mean of
        ``maps[n, k]`` plus the classifier's bias ``b_k`` equals ``logits[n, k]``.

    Example:
        >>> from anyconv.models import FCN
        >>> net = FCN(num_classes=3).eval()
        >>> maps, logits = class_activation_maps(net, torch.randn(2, 1, 40))
        >>> maps.shape, bool(torch.allclose(maps.mean(-1) + net.classifier.bias, logits, atol=1e-5))
        (torch.Size([2, 3, 40]), True)
    """
    if not supports_cam(model):
        raise fail(
            "class_activation_maps",
            "model",
            "a network with 'features' and a Linear 'classifier' after global average "
            "pooling (fcn, resnet1d)",
            type(model).__name__,
            TypeError,
        )
    if not isinstance(x, torch.Tensor) or x.ndim < 3:
        raise fail("class_activation_maps", "x", "a tensor (N, C, *spatial)", x, TypeError)
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        x = x.to(param.device, param.dtype)
        features = model.features(x)
        logits = model(x)
    finally:
        model.train(was_training)
    weight = model.classifier.weight  # (K, C)
    if features.shape[1] != weight.shape[1]:
        raise fail(
            "class_activation_maps",
            "model",
            f"features with {weight.shape[1]} channels, as the classifier reads",
            f"{features.shape[1]} channels",
        )
    maps = torch.einsum("kc,nc...->nk...", weight, features)
    return maps.cpu(), logits.cpu()


def plot_cam(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | Sequence[int],
    path: str | Path,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Draw each series of ``x`` as a line coloured by the class activation map of its
    true class, as in the FCN paper's figure; one panel per series.

    Args:
        model: a network for which :func:`supports_cam` holds.
        x: series ``(N, C, L)``, N at most 12 (each channel a line).
        y: their true classes ``(N,)``.
        path: the PNG to write.
        class_names: names of the classes (default their indices).
        title: the figure's title (default names the model).

    Returns:
        ``path``.

    Example:
        >>> import tempfile, os
        >>> from anyconv.models import FCN
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = plot_cam(FCN(num_classes=2), torch.randn(2, 1, 30), [0, 1], f"{d}/cam.png")
        ...     os.path.getsize(p) > 0
        True
    """
    from matplotlib.collections import LineCollection

    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        raise fail("plot_cam", "x", "a tensor of series (N, C, L)", x, TypeError)
    if not 1 <= len(x) <= 12:
        raise fail("plot_cam", "x", "1 to 12 series", f"{len(x)} series")
    y = [int(v) for v in (y.tolist() if isinstance(y, torch.Tensor) else y)]
    if len(y) != len(x):
        raise fail("plot_cam", "y", f"{len(x)} labels, one per series", y)
    maps, logits = class_activation_maps(model, x)
    probs = logits.softmax(1)
    names = list(class_names) if class_names else [str(k) for k in range(probs.shape[1])]
    rows, cols = grid(len(x), columns=min(3, len(x)))
    fig = new_figure(4.6 * cols + 1.2, 2.7 * rows + 0.8)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    series = x.detach().float().cpu().numpy()
    for n, ax in enumerate(axes):
        if n >= len(x):
            ax.set_visible(False)
            continue
        cam = maps[n, y[n]].numpy()
        cam = np.interp(  # at the input's resolution (the FCN keeps it anyway)
            np.linspace(0, 1, series.shape[2]), np.linspace(0, 1, len(cam)), cam
        )
        lo, hi = float(cam.min()), float(cam.max())
        scaled = (cam - lo) / (hi - lo) if hi > lo else np.zeros_like(cam)
        t = np.arange(series.shape[2])
        for channel in series[n]:
            points = np.stack([t, channel], axis=1)
            segments = np.stack([points[:-1], points[1:]], axis=1)
            lines = LineCollection(segments, cmap="jet", linewidths=2.2)
            lines.set_array((scaled[:-1] + scaled[1:]) / 2)
            lines.set_clim(0, 1)
            ax.add_collection(lines)
        ax.set_xlim(0, max(series.shape[2] - 1, 1))
        low, high = float(series[n].min()), float(series[n].max())
        pad = 0.08 * (high - low or 1.0)
        ax.set_ylim(low - pad, high + pad)
        predicted = int(probs[n].argmax())
        ax.set_title(
            f"true class {names[y[n]]}: predicted {names[predicted]} "
            f"(p = {float(probs[n, predicted]):.2f})",
            fontsize=9,
        )
        ax.set_xlabel("time step")
        ax.set_ylabel("value (z-normalised)")
    bar = fig.colorbar(lines, ax=list(axes[: len(x)]), shrink=0.9)
    bar.set_label("class activation map of the true class\n(scaled per series: low to high)")
    fig.suptitle(
        title or f"Where {type(model).__name__} finds the evidence for each series' class",
        fontsize=11,
    )
    return save(fig, path)


def cam_examples(
    x: torch.Tensor, y: torch.Tensor, per_class: int = 1, max_series: int = 6
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``per_class`` series of each class (in class order), at most
    ``max_series`` in all: the examples :func:`plot_cam` draws for a run.

    Example:
        >>> xs, ys = cam_examples(torch.arange(5.0).view(5, 1, 1), torch.tensor([1, 0, 1, 0, 2]))
        >>> ys.tolist(), xs.view(-1).tolist()
        ([0, 1, 2], [1.0, 0.0, 4.0])
    """
    chosen: list[int] = []
    for k in torch.unique(y).tolist():
        chosen += torch.nonzero(y == k).view(-1)[:per_class].tolist()
    chosen = chosen[:max_series]
    return x[chosen], y[chosen]
