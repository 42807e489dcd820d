"""``folder:DIR``: one sub-folder per class, train and test; equal sizes required."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from anyconv.data import load_dataset, read_image

Image = pytest.importorskip("PIL.Image", reason="folder:DIR needs Pillow")


def _save(path, array, mode=None, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path, fmt)
    return array


def _grey_tree(root, size=(5, 7)):
    rng = np.random.default_rng(0)
    pixels = {}
    for part, classes in (("train", {"zebra": 2, "ant": 3}), ("test", {"zebra": 1})):
        for cls, n in classes.items():
            for i in range(n):
                f = root / part / cls / f"{i}.png"
                pixels[f] = _save(f, rng.integers(0, 256, size, dtype=np.uint8))
    return pixels


def test_grey_round_trip_with_sorted_class_names(tmp_path):
    pixels = _grey_tree(tmp_path)
    d = load_dataset(f"folder:{tmp_path}")
    assert d.class_names == ["ant", "zebra"] and d.num_classes == 2 and d.kind == "image"
    assert tuple(d.x_train.shape) == (5, 1, 5, 7) and tuple(d.x_test.shape) == (1, 1, 5, 7)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.y_train.tolist() == [0, 0, 0, 1, 1] and d.y_test.tolist() == [1]
    expected = [
        pixels[tmp_path / "train" / c / f"{i}.png"]
        for c, n in (("ant", 3), ("zebra", 2))
        for i in range(n)
    ]
    np.testing.assert_array_equal(d.x_train[:, 0].numpy() * 255, np.stack(expected))


def test_colour_images_give_three_channels_and_alpha_is_dropped(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 10
    _save(tmp_path / "train" / "a" / "x.png", rgba, "RGBA")
    _save(tmp_path / "train" / "b" / "g.png", np.full((4, 4), 51, np.uint8))
    _save(tmp_path / "test" / "b" / "c.JPG", np.full((4, 4, 3), 200, np.uint8), fmt="JPEG")
    d = load_dataset(f"folder:{tmp_path}")
    assert d.input_shape == (3, 4, 4)
    np.testing.assert_array_equal(d.x_train[0, :, 0, 0].numpy(), [1, 0, 0])
    np.testing.assert_allclose(d.x_train[1].numpy(), 0.2)  # grey to RGB: equal channels
    assert abs(float(d.x_test.mean()) - 200 / 255) < 0.02  # JPEG is lossy


def test_other_files_and_hidden_entries_are_ignored(tmp_path):
    _grey_tree(tmp_path)
    (tmp_path / "train" / "ant" / "notes.txt").write_text("hi")
    (tmp_path / "train" / "ant" / ".x.png").write_text("hidden")
    (tmp_path / "train" / ".cache").mkdir()
    d = load_dataset(f"folder:{tmp_path}")
    assert len(d.x_train) == 5 and d.class_names == ["ant", "zebra"]


def test_odd_size_names_the_file(tmp_path):
    _grey_tree(tmp_path)
    odd = tmp_path / "test" / "zebra" / "9.png"
    _save(odd, np.zeros((6, 7), np.uint8))
    first = tmp_path / "train" / "ant" / "0.png"
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{odd}: 7x6 pixels (width x height), but {first} is 7x5; images of different "
            "sizes need --image-size (image_size=) to be resized"
        ),
    ):
        load_dataset(f"folder:{tmp_path}")


def test_test_class_without_train_class(tmp_path):
    _grey_tree(tmp_path)
    _save(tmp_path / "test" / "bee" / "0.png", np.zeros((5, 7), np.uint8))
    with pytest.raises(ValueError, match="test class 'bee' has no train folder"):
        load_dataset(f"folder:{tmp_path}")


def test_corrupt_image_names_the_file(tmp_path):
    _grey_tree(tmp_path)
    bad = tmp_path / "train" / "ant" / "1.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match=re.escape(f"{bad}: not a readable image")):
        load_dataset(f"folder:{tmp_path}")


def test_empty_train_class(tmp_path):
    _grey_tree(tmp_path)
    (tmp_path / "train" / "cat").mkdir()
    with pytest.raises(
        ValueError, match=re.escape(f"{tmp_path / 'train' / 'cat'}: no images (.png, .jpg")
    ):
        load_dataset(f"folder:{tmp_path}")


def test_missing_train_folder_beside_a_test_folder(tmp_path):
    _grey_tree(tmp_path)
    for f in (tmp_path / "train").rglob("*.png"):
        f.unlink()
    for d in sorted((tmp_path / "train").glob("*")):
        d.rmdir()
    (tmp_path / "train").rmdir()
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"{tmp_path / 'train'}: no such folder; {tmp_path} has test/ but no train/"
        ),
    ):
        load_dataset(f"folder:{tmp_path}")


def test_missing_test_folder_holds_out_part_of_train(tmp_path):
    _grey_tree(tmp_path)  # train: ant 3, zebra 2
    for f in (tmp_path / "test").rglob("*.png"):
        f.unlink()
    (tmp_path / "test" / "zebra").rmdir()
    (tmp_path / "test").rmdir()
    d = load_dataset(f"folder:{tmp_path}", test_fraction=0.4)
    assert sorted(d.y_test.tolist()) == [0, 1] and sorted(d.y_train.tolist()) == [0, 0, 1]


def test_read_image_modes(tmp_path):
    _save(tmp_path / "g.png", np.full((2, 3), 255, np.uint8))
    assert read_image(tmp_path / "g.png").shape == (1, 2, 3)
    assert read_image(tmp_path / "g.png", 3).shape == (3, 2, 3)
    assert float(read_image(tmp_path / "g.png").max()) == 1.0
