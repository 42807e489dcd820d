"""Where the Explorer's samples come from: a run folder's test split (loaded as
``anyconv evaluate`` loads it), a data set, or synthetic inputs for an untrained model."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from anyconv._checks import fail, is_int
from anyconv.viz.explorer.collect import MAP_BUDGET, MAX_SAMPLES

CANDIDATES = 2000
"""Test samples the page's samples are picked from."""
PAGE_NAME = "explore.html"
"""The page's name in a run folder."""


def check_samples(count: Any, shape: Sequence[int], func: str) -> int:
    """``count`` samples of ``shape`` ``(C, *spatial)`` for one page: 1 to
    :data:`MAX_SAMPLES`, and few enough that their 8-bit copies fit the page's budget (checked
    before any sample is made or loaded).

    Example:
        >>> check_samples(16, (1, 28, 28), "explore")
        16
        >>> check_samples(0, (1, 28, 28), "explore")
        Traceback (most recent call last):
        ...
        ValueError: explore(): argument 'samples' must be an int in 1..256; got 0
    """
    if not is_int(count) or not 1 <= count <= MAX_SAMPLES:
        raise fail(
            func,
            "samples",
            f"an int in 1..{MAX_SAMPLES}",
            count,
            ValueError if is_int(count) else TypeError,
        )
    size = math.prod(shape)
    if size > MAP_BUDGET:
        raise ValueError(
            f"{func}(): one sample of shape {tuple(shape)} has {size:,} values, more than one "
            f"page holds ({MAP_BUDGET / 1e6:g} MB of 8-bit maps); use smaller inputs"
        )
    if count * size > MAP_BUDGET:
        allowed = (
            f"at most {MAP_BUDGET // size} for samples of shape {tuple(shape)} (one page holds "
            f"{MAP_BUDGET / 1e6:g} MB of 8-bit maps)"
        )
        raise fail(func, "samples", allowed, count)
    return count


def synthetic_inputs(shape: Sequence[int], count: int, seed: int = 0) -> torch.Tensor:
    """Inputs with structure for an untrained model when no data set is given, in [0, 1]:
    sequences are sums of a few sine waves and a bump, images a few blobs and a bar,
    videos a blob moving in a straight line. The same ``seed`` gives the same samples.

    Returns:
        ``(count, *shape)`` float32.

    Example:
        >>> x = synthetic_inputs((3, 16, 16), 4)
        >>> tuple(x.shape), float(x.min()) >= 0, float(x.max()) <= 1
        ((4, 3, 16, 16), True, True)
    """
    g = torch.Generator().manual_seed(seed)

    def rand(*size: int) -> torch.Tensor:
        return torch.rand(*size, generator=g)

    channels, spatial = shape[0], tuple(shape[1:])
    grids = torch.meshgrid(*(torch.linspace(0, 1, n) for n in spatial[-2:]), indexing="ij")
    samples = []
    for _ in range(count):
        if len(spatial) == 1:
            t = torch.linspace(0, 1, spatial[0])
            x = torch.zeros(channels, spatial[0])
            for c in range(channels):
                for _ in range(3):
                    x[c] += rand(1) * torch.sin(2 * math.pi * (1 + 6 * rand(1)) * t + 6 * rand(1))
                x[c] += 2 * torch.exp(-(((t - rand(1)) / 0.05) ** 2))
        else:
            video = len(spatial) == 3
            frames = spatial[0] if video else 1
            rows, cols = grids
            x = torch.zeros(channels, frames, *spatial[-2:])
            velocity = (rand(2) - 0.5) * 0.6 if video else torch.zeros(2)  # over the clip
            for c in range(channels):
                blobs = [(0.1 + 0.8 * rand(2), 0.06 + 0.12 * rand(1)) for _ in range(3)]
                for f in range(frames):
                    move = velocity * (f / max(frames - 1, 1) - 0.5)
                    for centre, width in blobs:
                        d = (rows - centre[0] - move[0]) ** 2 + (cols - centre[1] - move[1]) ** 2
                        x[c, f] += torch.exp(-d / width**2)
                if not video:
                    row = int(rand(1) * spatial[0])
                    x[c, 0, row : row + max(1, spatial[0] // 12)] += 0.7
            x = x if video else x[:, 0]
        lo, hi = x.min(), x.max()
        samples.append((x - lo) / (hi - lo) if hi > lo else torch.zeros_like(x))
    return torch.stack(samples)


@torch.no_grad()
def pick_samples(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` samples of ``x, y`` for the page's picker, ordered by class: every class in
    turn (the first samples of each), and, where the model gets some wrong, up to a quarter
    of them misclassified, so that a class sees mistakes too.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> x, y = torch.randn(10, 1, 4), torch.tensor([0, 1] * 5)
        >>> xs, ys = pick_samples(net, x, y, 4)
        >>> ys.tolist()
        [0, 0, 1, 1]
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    training = model.training
    model.eval()
    outputs = []
    try:
        for i in range(0, len(x), 256):
            out = model(x[i : i + 256].to(device))
            outputs.append(out.argmax(1).cpu() if out.dim() == 2 else None)
    finally:
        model.train(training)
    # a model without class scores (N, K) has no mistakes to show
    wrong = (
        torch.nonzero(torch.cat(outputs) != y).flatten().tolist()[: count // 4]
        if all(o is not None for o in outputs)
        else []
    )
    chosen = list(wrong)
    taken = set(chosen)
    by_class = [torch.nonzero(y == k).flatten().tolist() for k in torch.unique(y).tolist()]
    depth = 0
    while len(chosen) < min(count, len(x)):
        added = False
        for indices in by_class:
            if depth < len(indices) and indices[depth] not in taken and len(chosen) < count:
                chosen.append(indices[depth])
                taken.add(indices[depth])
                added = True
        depth += 1
        if not added and depth > len(x):
            break
    chosen.sort(key=lambda i: (int(y[i]), i))
    index = torch.tensor(chosen, dtype=torch.int64)
    return x[index], y[index]


def _test_split(data: Any, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    return data.first_samples("test", max(count, CANDIDATES))


def explore_run(
    run_dir: str | Path,
    path: str | Path | None = None,
    *,
    samples: int = 16,
    data: str | None = None,
    workers: int | None = None,
) -> Path:
    """The Explorer page of a trained run: its model, ``samples`` samples of its data
    set's test split (or of ``data``, another data set of the same shape and classes),
    picked by :func:`pick_samples`, and its training curves and confusion matrix.

    The run and its data are read as ``anyconv evaluate`` reads them, with the same
    errors (a folder without a model, a damaged file, data of another shape).

    Args:
        run_dir: a run folder written by ``anyconv train``.
        path: the page (default ``RUN_DIR/explore.html``).
        samples: how many test samples the page embeds (1 to 256).
        data: another data set spec (default the run's).
        workers: processes decoding an image folder (``folder:`` data).

    Returns:
        the path written.
    """
    from anyconv.data.spec import DataSpec
    from anyconv.train.run import RunFolder, check_data_fits_run, load_run_data
    from anyconv.viz.explorer import explore

    func = "explore_run"
    folder = RunFolder(run_dir)
    config = folder.read_config()
    check_samples(samples, config["input_shape"], func)
    model, config = folder.load_model()
    spec = data or config["data"]
    loaded = load_run_data(config, spec, workers=workers)
    for warning in check_data_fits_run(config, loaded, spec, run_dir):
        warnings.warn(warning, stacklevel=2)
    x, y = pick_samples(model, *_test_split(loaded, samples), samples)
    title = f"{config['model']} trained on {DataSpec.parse(config['data']).label}"
    if data:
        title += f", samples of {DataSpec.parse(data).label}"
    return explore(
        model,
        x,
        path if path is not None else folder.path / PAGE_NAME,
        labels=y,
        class_names=config.get("class_names") or list(loaded.class_names),
        run_dir=run_dir,
        title=title,
    )


def explore_model(
    model: torch.nn.Module,
    path: str | Path,
    *,
    input_shape: Sequence[int] | None = None,
    data: Any = None,
    samples: int = 16,
    title: str | None = None,
    seed: int = 0,
) -> Path:
    """The Explorer page of a model without a run (untrained, or trained elsewhere): on
    ``samples`` test samples of ``data`` (an :class:`anyconv.data.Dataset`, as
    :func:`anyconv.data.load_dataset` gives), or on :func:`synthetic_inputs` of
    ``input_shape`` when no data is given.

    Returns:
        the path written.

    Example:
        >>> import tempfile
        >>> net = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 5), torch.nn.ReLU())
        >>> with tempfile.TemporaryDirectory() as d:
        ...     explore_model(net, f"{d}/p.html", input_shape=(1, 30), samples=3).name
        'p.html'
    """
    from anyconv.viz.explorer import explore

    func = "explore_model"
    if data is None:
        if input_shape is None:
            raise fail(func, "input_shape", "(C, *spatial) when no data is given", None)
        check_samples(samples, input_shape, func)
        x = synthetic_inputs(input_shape, samples, seed)
        return explore(model, x, path, title=title)
    check_samples(samples, data.input_shape, func)
    x, y = pick_samples(model, *_test_split(data, samples), samples)
    return explore(model, x, path, labels=y, class_names=list(data.class_names), title=title)
