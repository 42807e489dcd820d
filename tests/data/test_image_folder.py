"""``folder:DIR`` with images of any size and mode: layouts, resizing and cropping,
normalisation, streaming, worker processes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from anyconv.data import load_dataset
from anyconv.data.folder import hold_out
from anyconv.data.image_folder import ImageFolderSplits
from anyconv.data.transforms import ImageTransform, centre_box, random_box
from anyconv.functional.algorithms import memory

Image = pytest.importorskip("PIL.Image")

MODES = ("L", "RGB", "RGBA", "P", "I;16")


def _image(rng, mode, size):
    w, h = size
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return img.convert(mode)


def mixed_tree(root, flat=False, per_class=6, seed=0):
    """Three classes of images of mixed sizes (12..40 pixels a side) and modes; with a
    test folder unless ``flat``."""
    rng = np.random.default_rng(seed)
    parts = {"": per_class} if flat else {"train": per_class, "test": 2}
    for part, n in parts.items():
        for c in ("cat", "dog", "eel"):
            folder = root / part / c
            folder.mkdir(parents=True)
            for i in range(n):
                size = tuple(int(v) for v in rng.integers(12, 41, 2))
                mode = MODES[int(rng.integers(len(MODES)))]
                _image(rng, mode, size).save(folder / f"{i}.png")
    return root


def test_mixed_sizes_and_modes_with_image_size(tmp_path):
    mixed_tree(tmp_path)
    d = load_dataset(f"folder:{tmp_path}", image_size=(10, 8), workers=0)
    assert isinstance(d, ImageFolderSplits) and not d.streamed
    assert d.input_shape == (3, 10, 8) and d.class_names == ["cat", "dog", "eel"]
    x, y = next(d.batches("test", [0, 5], 2))
    assert x.shape == (2, 3, 10, 8) and x.dtype == torch.float32 and y.tolist() == [0, 2]


def test_test_transform_is_resize_shorter_side_then_centre_crop(tmp_path):
    # an 18x12 image cropped to 12x12: no resampling, the middle 12 columns exactly
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (12, 18, 3), dtype=np.uint8)
    t = ImageTransform(size=(12, 12))
    np.testing.assert_array_equal(t(a), a[:, 3:15].transpose(2, 0, 1) / np.float32(255))
    # a 16x8 image to 4x8: the shorter side halves, then the 8-wide middle is kept
    b = rng.integers(0, 256, (8, 16), dtype=np.uint8)
    half = np.asarray(Image.fromarray(b).resize((8, 4), Image.BILINEAR))
    np.testing.assert_array_equal(
        ImageTransform(size=(4, 4))(b[:, :, None])[0] * 255, half[:, 2:6].astype(np.float32)
    )
    assert centre_box(16, 8, (4, 4)) == (4.0, 0.0, 12.0, 8.0)


def test_random_crops_follow_the_scale_and_ratio_ranges():
    rng = np.random.default_rng(0)
    for _ in range(200):
        left, top, right, bottom = random_box(60, 40, rng, (0.25, 0.5), (0.5, 2.0))
        w, h = right - left, bottom - top
        assert left >= 0 and right <= 60 and top >= 0 and bottom <= 40
        assert 0.24 <= w * h / 2400 <= 0.51 and 0.45 <= w / h <= 2.1


def test_training_transform_is_seeded_per_sample_and_epoch(tmp_path):
    mixed_tree(tmp_path)
    d = load_dataset(f"folder:{tmp_path}", image_size=8, flip=True, workers=0)

    def batch(epoch, seed=3):
        return next(d.batches("train", [0, 1, 2], 3, epoch=epoch, seed=seed))[0]

    assert torch.equal(batch(1), batch(1))
    assert not torch.equal(batch(1), batch(2))
    assert not torch.equal(batch(1), batch(1, seed=4))
    # the test transform is the same whatever the epoch
    test = [next(d.batches("train", [0], 1, epoch=e))[0] for e in (1, 2)]
    assert torch.equal(*test)


def test_flip_mirrors_about_half_the_training_images():
    a = np.arange(2 * 3, dtype=np.uint8).reshape(2, 3, 1) * 40
    t = ImageTransform(flip=True)
    outs = [t(a, np.random.default_rng(i))[0] for i in range(200)]
    flipped = sum(np.array_equal(o, a[:, ::-1, 0] / np.float32(255)) for o in outs)
    kept = sum(np.array_equal(o, a[:, :, 0] / np.float32(255)) for o in outs)
    assert flipped + kept == 200 and 70 < flipped < 130
    assert all(np.array_equal(t(a)[0], a[:, :, 0] / np.float32(255)) for _ in range(3))


def test_normalisation_uses_the_training_statistics(tmp_path):
    mixed_tree(tmp_path)
    d = load_dataset(f"folder:{tmp_path}", image_size=8, workers=0)
    options = d.options()
    assert options["image_size"] == [8, 8] and len(options["mean"]) == 3
    x = torch.cat([x for x, _ in d.batches("train", range(len(d.y_train)), 7)])
    np.testing.assert_allclose(x.mean((0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(x.std((0, 2, 3), unbiased=False), 1, atol=1e-5)
    # given statistics are used as they are (what evaluate/predict do)
    again = load_dataset(f"folder:{tmp_path}", image_size=8, workers=0, mean=[0.5], std=[0.25])
    assert again.options()["mean"] == [0.5] * 3 and again.options()["std"] == [0.25] * 3


def test_streamed_and_in_memory_give_the_same_batches(tmp_path):
    mixed_tree(tmp_path)
    options = dict(image_size=(9, 7), flip=True, workers=0)
    memory = load_dataset(f"folder:{tmp_path}", stream=False, **options)
    disk = load_dataset(f"folder:{tmp_path}", stream=True, **options)
    assert disk.streamed and not memory.streamed and disk.options() == memory.options()
    order = torch.randperm(len(disk.y_train), generator=torch.Generator().manual_seed(0))
    for a, b in zip(
        memory.batches("train", order, 5, epoch=2, seed=7),
        disk.batches("train", order, 5, epoch=2, seed=7),
    ):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_worker_processes_give_the_same_batches_as_none(tmp_path):
    mixed_tree(tmp_path)
    d = load_dataset(f"folder:{tmp_path}", image_size=8, flip=True, stream=True, workers=0)
    order = list(range(len(d.y_train)))[::-1]
    alone = list(d.batches("train", order, 4, epoch=1, seed=0))
    d.workers = 2
    together = list(d.batches("train", order, 4, epoch=1, seed=0))
    assert len(alone) == len(together)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(alone, together))


def test_same_size_folder_streamed_equals_the_tensors(tmp_path):
    rng = np.random.default_rng(0)
    for part, n in (("train", 4), ("test", 2)):
        for c in ("a", "b"):
            (tmp_path / part / c).mkdir(parents=True)
            for i in range(n):
                _image(rng, MODES[i % len(MODES)], (6, 5)).save(tmp_path / part / c / f"{i}.png")
    tensors = load_dataset(f"folder:{tmp_path}")
    streamed = load_dataset(f"folder:{tmp_path}", stream=True, workers=0)
    assert not hasattr(streamed, "x_train") and streamed.input_shape == tensors.input_shape
    x, y = next(streamed.batches("train", range(8), 8))
    assert torch.equal(x, tensors.x_train) and torch.equal(y, tensors.y_train)


def test_size_decides_streaming(tmp_path, monkeypatch):
    mixed_tree(tmp_path)
    assert not load_dataset(f"folder:{tmp_path}", image_size=8, workers=0).streamed
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    assert load_dataset(f"folder:{tmp_path}", image_size=8, workers=0).streamed


def test_imagefolder_layout_holds_out_a_stratified_seeded_part(tmp_path):
    mixed_tree(tmp_path, flat=True, per_class=10)
    d = load_dataset(f"folder:{tmp_path}", image_size=8, test_fraction=0.3, workers=0)
    assert np.bincount(d.y_test.numpy()).tolist() == [3, 3, 3]
    assert np.bincount(d.y_train.numpy()).tolist() == [7, 7, 7]
    same = load_dataset(f"folder:{tmp_path}", image_size=8, test_fraction=0.3, workers=0)
    other = load_dataset(f"folder:{tmp_path}", seed=1, image_size=8, test_fraction=0.3, workers=0)
    assert same.test.files == d.test.files and other.test.files != d.test.files
    assert not set(d.test.files) & set(d.train.files)


def test_hold_out_keeps_every_class_on_both_sides():
    kept, held = hold_out({"a": list(range(2)), "b": list(range(50))}, 0.01, seed=0)
    assert (len(kept["a"]), len(held["a"])) == (1, 1)
    assert (len(kept["b"]), len(held["b"])) == (49, 1)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"image_size": 0}, "argument 'image_size' must be a positive int H or a pair (H, W)"),
        ({"image_size": (4, 4, 4)}, "argument 'image_size' must be a positive int H or a pair"),
        ({"test_fraction": 1.0}, "argument 'test_fraction' must be a fraction strictly between"),
        ({"crop_scale": 0}, "argument 'crop_scale' must be a fraction 0 < f <= 1"),
        ({"workers": -1}, "argument 'workers' must be an int in 0..64"),
        ({"image_size": 8, "mean": [0.1, 0.2], "std": [1, 1]}, "argument 'mean' must be 3"),
    ],
)
def test_bad_options(tmp_path, options, message):
    mixed_tree(tmp_path)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_dataset(f"folder:{tmp_path}", **options)


def test_options_of_other_loaders_are_refused():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "load_dataset(): argument 'image_size' must be given only with 'folder:' data; "
            "got 'digits'"
        ),
    ):
        load_dataset("digits", image_size=8)


def test_fingerprint_follows_the_files_and_the_transform(tmp_path):
    mixed_tree(tmp_path)
    d = load_dataset(f"folder:{tmp_path}", image_size=8, workers=0)
    again = load_dataset(f"folder:{tmp_path}", image_size=8, workers=0)
    assert d.fingerprint() == again.fingerprint()
    assert d.fingerprint() != load_dataset(f"folder:{tmp_path}", image_size=9).fingerprint()
    Image.new("L", (20, 20), 7).save(tmp_path / "train" / "cat" / "0.png")
    assert load_dataset(f"folder:{tmp_path}", image_size=8).fingerprint() != d.fingerprint()
    assert d.normalization["mean"] == d.options()["mean"]
