"""Property tests that draw data the way users bring it (issue 26): image folders of any
size, aspect and mode, read through every path (in memory, resized, streamed through a
worker), and UCR series of odd, unequal lengths, against independent references."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyconv.data import load_dataset

Image = pytest.importorskip("PIL.Image")

MODES = ("L", "LA", "RGB", "RGBA", "P", "I;16")


def _save(path: Path, w: int, h: int, mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16)).save(path)
        return
    pixels = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    Image.fromarray(pixels, "RGBA").convert(mode).save(path)


images = st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from(MODES))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.lists(images, min_size=4, max_size=8),
    size=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    stream=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_folders_of_any_sizes_and_modes_load_through_every_path(files, size, stream, seed):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i, (w, h, mode) in enumerate(files):
            c = root / ("a" if i % 2 else "b")
            c.mkdir(exist_ok=True)
            _save(c / f"{i}.png", w, h, mode, seed + i)
        d = load_dataset(
            f"folder:{root}", image_size=list(size), stream=stream, workers=1 if stream else 0
        )
        channels = 3 if any(m in ("RGB", "RGBA", "P") for _, _, m in files) else 1
        assert d.input_shape == (channels, *size)
        for split, draw in (("train", seed), ("test", None)):
            n = len(d.y_train if split == "train" else d.y_test)
            for x, y in d.batches(split, torch.arange(n), 3, epoch=1, seed=draw):
                assert x.shape == (len(y), channels, *size) and torch.isfinite(x).all()


def _ts_text(rows: list[list[list[float]]], labels: list[str]) -> str:
    lines = ["@problemName drawn", "@univariate false", "@equalLength false", "@classLabel true"]
    lines.append("@data")
    for case, label in zip(rows, labels):
        lines.append(":".join(",".join(repr(v) for v in dim) for dim in case) + f":{label}")
    return "\n".join(lines) + "\n"


values = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False).map(lambda v: round(v, 3))


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    channels=st.integers(1, 3),
    n=st.integers(2, 6),
)
def test_ragged_ts_files_pad_and_normalise_each_series(data, channels, n):
    cases = []
    for _ in range(2 * n):
        length = data.draw(st.integers(1, 17))
        cases.append(
            [data.draw(st.lists(values, min_size=length, max_size=length)) for _ in range(channels)]
        )
    labels = [data.draw(st.sampled_from(["1", "1.0", "2", "2e0", "10"])) for _ in cases]
    labels[0], labels[1] = "1", "2"  # two classes in the training split
    with tempfile.TemporaryDirectory() as tmp:
        for part, rows, names in (
            ("TRAIN", cases[:n], labels[:n]),
            ("TEST", cases[n:], labels[n:]),
        ):
            (Path(tmp) / f"R_{part}.ts").write_text(_ts_text(rows, names))
        d = load_dataset(f"ucr:{Path(tmp) / 'R'}")
    longest = max(len(dim) for case in cases for dim in case)
    assert d.input_shape == (channels, longest)
    numbers = sorted({float(v) for v in labels})
    assert d.class_names == [str(int(v)) for v in numbers]
    got = torch.cat([d.x_train, d.x_test]).double().numpy()
    for i, case in enumerate(cases):
        assert numbers.index(float(labels[i])) == torch.cat([d.y_train, d.y_test])[i]
        for c, dim in enumerate(case):
            a = np.array(dim)
            expected = (a - a.mean()) / a.std() if a.std() > 0 else np.zeros_like(a)
            np.testing.assert_allclose(got[i, c, : len(a)], expected, rtol=1e-5, atol=1e-5)
            assert not got[i, c, len(a) :].any()  # padding is 0, the series' mean
