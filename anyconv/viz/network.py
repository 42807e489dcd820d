"""The pictures of a trained network that a run folder holds: the first layer's filters,
the feature maps of every convolution layer for a test sample, and a grid of samples."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from anyconv.viz.filters import first_conv_weight, plot_filters
from anyconv.viz.maps import conv_layers, plot_feature_maps
from anyconv.viz.samples import plot_samples

NETWORK_PICTURES = ("filters.png", "feature_maps.png", "samples.png")


def data_label(spec: str) -> str:
    """A dataset spec for a title: a folder or file argument by its last name only.

    Example:
        >>> data_label("idx:/work/shared/datasets/mnist"), data_label("digits")
        ('idx:mnist', 'digits')
    """
    kind, _, where = spec.partition(":")
    return f"{kind}:{Path(where).name}" if where else kind


def network_jobs(model: torch.nn.Module, data: Any, *, title: str = "") -> dict[str, Any]:
    """The run folder's pictures of a network as ``name -> draw(path)``: ``filters.png``
    (the first convolution layer's kernels), ``feature_maps.png`` (every convolution
    layer's maps for the first test sample, with its true and predicted class) -- both only
    for a network with a convolution layer -- and ``samples.png`` (the first training
    samples with their classes).

    Args:
        model: the trained network.
        data: an :class:`anyconv.data.Splits`.
        title: what was trained on what, e.g. ``"lenet5 trained on digits"``.

    Example:
        >>> from anyconv.data import Splits
        >>> x, y = torch.rand(4, 1, 6, 6), torch.tensor([0, 1, 0, 1])
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3))
        >>> list(network_jobs(net, Splits(x, y, x, y, 2, "image", "random")))
        ['filters.png', 'feature_maps.png', 'samples.png']
    """
    sample, target = data.x_test[0], int(data.y_test[0])
    jobs = {}
    if conv_layers(model):  # a network without convolutions (an MLP) has neither picture
        jobs["filters.png"] = lambda p: plot_filters(
            first_conv_weight(model, sample), p, title=f"{title}, first convolution layer"
        )
        jobs["feature_maps.png"] = lambda p: plot_feature_maps(
            model, sample, p, title=title, class_names=data.class_names, target=target
        )
    jobs["samples.png"] = lambda p: plot_samples(
        data.x_train,
        data.y_train,
        p,
        class_names=data.class_names,
        title=f"{data_label(data.name)}, training set",
    )
    return jobs


def write_network_pictures(
    out_dir: str | Path, model: torch.nn.Module, data: Any, *, title: str = ""
) -> list[str]:
    """Write :func:`network_jobs`' pictures into ``out_dir``; a picture that fails is
    skipped with a ``RuntimeWarning`` (a finished run is worth more than its figures).

    Returns:
        the names of the pictures written.

    Example:
        >>> import tempfile
        >>> from anyconv.data import Splits
        >>> x, y = torch.rand(4, 1, 6, 6), torch.tensor([0, 1, 0, 1])
        >>> data = Splits(x, y, x, y, 2, "image", "random")
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(),
        ...     torch.nn.Flatten(), torch.nn.Linear(32, 2))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_network_pictures(d, net, data, title="a tiny net on random images")
        ['filters.png', 'feature_maps.png', 'samples.png']
    """
    return draw_pictures(network_jobs(model, data, title=title), out_dir)


def draw_pictures(jobs: dict[str, Any], out_dir: str | Path) -> list[str]:
    """Call ``draw(out_dir / name)`` for each ``name: draw``; a picture that fails is
    skipped with a ``RuntimeWarning``. Returns the names written.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     draw_pictures({"ok.png": lambda p: p.write_bytes(b"")}, d)
        ['ok.png']
    """
    written = []
    for name, draw in jobs.items():
        try:
            draw(Path(out_dir) / name)
            written.append(name)
        except Exception as error:
            warnings.warn(f"{name} not written: {error}", RuntimeWarning, stacklevel=3)
    return written
