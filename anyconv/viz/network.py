"""The pictures of a trained network that a run folder holds: the first layer's filters,
the feature maps of every convolution layer for a test sample, a grid of samples, and the
class activation maps of networks that support them."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from anyconv.data.base import Dataset
from anyconv.viz.cam import cam_examples, plot_cam, supports_cam
from anyconv.viz.filters import first_conv_weight, plot_filters
from anyconv.viz.maps import conv_layers, plot_feature_maps
from anyconv.viz.samples import per_class, plot_samples

NETWORK_PICTURES = ("filters.png", "feature_maps.png", "samples.png", "cam.png")
SHOWN_SAMPLES = 24  # samples.png
CAM_CANDIDATES = 512  # test samples searched for one series per class, when streamed


def network_jobs(model: torch.nn.Module, data: Dataset, *, title: str = "") -> dict[str, Any]:
    """The run folder's pictures of a network as ``name -> draw(path)``: ``filters.png``
    (the first convolution layer's kernels), ``feature_maps.png`` (every convolution
    layer's maps for the first test sample, with its true and predicted class) -- both only
    for a network with a convolution layer --, ``samples.png`` (a few training samples
    of each class) and, for a network on sequences that supports class activation maps
    (:func:`~anyconv.viz.cam.supports_cam`: fcn, resnet1d), ``cam.png`` (the first test
    series of each class coloured by them).

    Args:
        model: the trained network.
        data: the :class:`~anyconv.data.Dataset` trained on (samples read through its
            ``batches`` get its test-time transform).
        title: what was trained on what, e.g. ``"lenet5 trained on digits"``.

    Example:
        >>> from anyconv.data import Splits
        >>> x, y = torch.rand(4, 1, 6, 6), torch.tensor([0, 1, 0, 1])
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3))
        >>> list(network_jobs(net, Splits(x, y, x, y, 2, "image", "random")))
        ['filters.png', 'feature_maps.png', 'samples.png']
    """

    def test_sample() -> tuple[torch.Tensor, int]:
        x, y = data.first_samples("test", 1)
        return x[0], int(y[0])

    def filters(path: Path) -> Any:
        weight = first_conv_weight(model, test_sample()[0])
        return plot_filters(weight, path, title=f"{title}, first convolution layer")

    def maps(path: Path) -> Any:
        sample, target = test_sample()
        return plot_feature_maps(
            model, sample, path, title=title, class_names=data.class_names, target=target
        )

    def samples(path: Path) -> Any:
        # a few of each class: an image folder lists its samples class by class, so the
        # first ones would show one class only
        indices, k = per_class(data.labels("train"), SHOWN_SAMPLES)
        x, y = next(iter(data.batches("train", indices, max(len(indices), 1))))
        return plot_samples(
            x,
            y,
            path,
            class_names=data.class_names,
            title=f"{data.spec.label}, training set",
            total=len(data.labels("train")),
            per_class=k,
        )

    def cam(path: Path) -> Any:
        x, y = data.tensors("test") or data.first_samples("test", CAM_CANDIDATES)
        return plot_cam(model, *cam_examples(x, y), path, data.class_names)

    jobs: dict[str, Any] = {}
    if conv_layers(model):  # a network without convolutions (an MLP) has neither picture
        jobs.update({"filters.png": filters, "feature_maps.png": maps})
    jobs["samples.png"] = samples
    if supports_cam(model) and data.kind == "sequence":
        jobs["cam.png"] = cam
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
