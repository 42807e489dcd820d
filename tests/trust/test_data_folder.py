"""Hostile image folders: a file where a folder belongs, empty and fake images, mixed
modes, symbolic link loops, decompression bombs, 16-bit and float pixels, one class."""

from __future__ import annotations

import os
import re
import struct
import zlib

import numpy as np
import pytest

from anyconv.cli import main
from anyconv.data import check_trainable, load_dataset, read_image

Image = pytest.importorskip("PIL.Image")


def _printed(capsys) -> str:
    out = capsys.readouterr()
    return " ".join((out.out + out.err).split())


def _tree(root, size=(4, 4)):
    """train/{a,b} with two grey images each, test/a with one."""
    for part, classes in (("train", ("a", "b")), ("test", ("a",))):
        for c in classes:
            (root / part / c).mkdir(parents=True)
            for i in range(2 if part == "train" else 1):
                Image.new("L", size, 10 * i).save(root / part / c / f"{i}.png")
    return root


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` grey pixels and holds none."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_train_that_is_a_file(tmp_path, capsys):
    # was: NotADirectoryError surfaced as a traceback
    (tmp_path / "train").write_text("not a folder")
    (tmp_path / "test").mkdir()
    with pytest.raises(NotADirectoryError) as error:
        load_dataset(f"folder:{tmp_path}")
    assert isinstance(error.value, ValueError)
    assert str(error.value).startswith(f"{tmp_path / 'train'}: is a file, expected a folder")
    assert main(["train", "--data", f"folder:{tmp_path}", "--quiet"]) == 2
    printed = _printed(capsys)
    assert "Traceback" not in printed and "is a file, expected a folder" in printed


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "an empty file (0 bytes)"),
        (b"GIF89a not really", "not a readable image"),
        (b"plain text, not an image", "not a readable image (cannot identify image file"),
    ],
)
def test_empty_and_non_image_files_are_named(tmp_path, content, message):
    _tree(tmp_path)
    bad = tmp_path / "train" / "b" / "bad.png"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(f"{bad}: {message}")):
        load_dataset(f"folder:{tmp_path}")


def test_truncated_image_data_is_named(tmp_path):
    _tree(tmp_path)
    bad = tmp_path / "train" / "b" / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (4, 4), np.uint8)).save(bad)
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(ValueError, match=re.escape(f"{bad}: not a readable image")):
        load_dataset(f"folder:{tmp_path}")


def test_mixed_modes_become_rgb_with_each_mode_scaled_by_its_range(tmp_path):
    _tree(tmp_path, size=(2, 2))
    train = tmp_path / "train"
    Image.new("1", (2, 2), 1).save(train / "a" / "one.png")
    Image.new("RGBA", (2, 2), (255, 0, 0, 7)).save(train / "a" / "rgba.png")
    Image.new("LA", (2, 2), (51, 0)).save(train / "b" / "la.png")
    palette = Image.new("P", (2, 2), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette.save(train / "b" / "p.png")
    Image.fromarray(np.full((2, 2), 40000, np.uint16)).save(train / "b" / "16.png")
    Image.new("CMYK", (2, 2), (0, 0, 0, 0)).save(train / "b" / "cmyk.jpg")
    d = load_dataset(f"folder:{tmp_path}")
    assert d.input_shape == (3, 2, 2)
    files = sorted((train / "a").iterdir()) + sorted((train / "b").iterdir())
    pixel = {f.name: d.x_train[i, :, 0, 0].tolist() for i, f in enumerate(files)}
    assert pixel["one.png"] == [1, 1, 1]
    assert pixel["rgba.png"] == [1, 0, 0]  # alpha dropped
    assert pixel["la.png"] == pytest.approx([0.2] * 3)
    assert pixel["p.png"] == [0, 1, 0]
    assert pixel["16.png"] == pytest.approx([40000 / 65535] * 3)
    assert pixel["cmyk.jpg"] == pytest.approx([1, 1, 1], abs=0.02)


def test_sixteen_bit_grey_is_scaled_by_its_range_not_clipped(tmp_path):
    # was: 40000 read as 1.0 and 100 as 0.392 (clipped to 8 bits)
    a = np.array([[40000, 100], [65535, 0]], np.uint16)
    Image.fromarray(a).save(tmp_path / "16.png")
    np.testing.assert_allclose(read_image(tmp_path / "16.png")[0], a / 65535, rtol=1e-6)
    np.testing.assert_allclose(read_image(tmp_path / "16.png", 3), np.stack([a / 65535] * 3))


def test_integer_images_beyond_sixteen_bits_are_refused(tmp_path):
    Image.fromarray(np.array([[70000, 0]], np.int32), "I").save(tmp_path / "i.tif")
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{tmp_path / 'i.tif'}: integer image (mode I) with values 0..70000; anyconv "
            "reads integer images as 16-bit (0..65535)"
        ),
    ):
        read_image(tmp_path / "i.tif")


def test_float_image_with_nan_names_the_file(tmp_path):
    _tree(tmp_path)
    bad = tmp_path / "test" / "a" / "f.tif"
    Image.fromarray(np.array([[0, np.nan, 0, 0]] * 4, np.float32), "F").save(bad)
    with pytest.raises(
        ValueError,
        match=re.escape(f"{bad}: 4 values are NaN or infinite, the first at (0, 0, 1) (nan)"),
    ):
        load_dataset(f"folder:{tmp_path}")


def test_decompression_bomb_header_is_refused(tmp_path):
    # was: PIL.Image.DecompressionBombError surfaced as a traceback
    _tree(tmp_path)
    bomb = tmp_path / "train" / "a" / "bomb.png"
    bomb.write_bytes(_png_header(100_000, 100_000))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{bomb}: refused as a possible decompression bomb: Image size (10000000000 "
            "pixels) exceeds limit"
        ),
    ):
        load_dataset(f"folder:{tmp_path}")


def test_header_just_above_pillows_warning_limit_is_refused_too(tmp_path):
    from PIL import Image as PILImage

    side = int(PILImage.MAX_IMAGE_PIXELS**0.5) + 2  # above the limit, below twice it
    (tmp_path / "x.png").write_bytes(_png_header(side, side))
    with pytest.raises(ValueError, match="refused as a possible decompression bomb"):
        read_image(tmp_path / "x.png")


def test_symbolic_link_to_a_folder_above_is_a_loop(tmp_path):
    _tree(tmp_path)
    link = tmp_path / "train" / "a" / "up"
    os.symlink(tmp_path / "train", link)
    with pytest.raises(
        ValueError,
        match=re.escape(f"{link}: symbolic link loop: it leads back to {tmp_path / 'train'}"),
    ):
        load_dataset(f"folder:{tmp_path}")


def test_symbolic_link_to_itself(tmp_path):
    _tree(tmp_path)
    link = tmp_path / "train" / "b" / "self.png"
    os.symlink(link, link)
    with pytest.raises(ValueError, match=re.escape(f"{link}: symbolic link loop")):
        load_dataset(f"folder:{tmp_path}")


def test_broken_symbolic_link_named_like_an_image(tmp_path):
    _tree(tmp_path)
    link = tmp_path / "train" / "b" / "gone.png"
    os.symlink(tmp_path / "nowhere.png", link)
    with pytest.raises(ValueError, match=re.escape(f"{link}: broken symbolic link")):
        load_dataset(f"folder:{tmp_path}")


def test_symbolic_links_that_are_no_loop_are_followed(tmp_path):
    _tree(tmp_path)
    os.symlink(tmp_path / "train" / "b", tmp_path / "train" / "a" / "also_b")
    d = load_dataset(f"folder:{tmp_path}")
    assert d.y_train.tolist() == [0, 0, 0, 0, 1, 1]


def test_one_class_folder_is_refused_for_training(tmp_path):
    for part in ("train", "test"):
        (tmp_path / part / "cat").mkdir(parents=True)
        Image.new("L", (4, 4)).save(tmp_path / part / "cat" / "0.png")
    message = "the training split holds one class only ('cat')"
    with pytest.raises(ValueError, match=re.escape(message)):
        check_trainable(load_dataset(f"folder:{tmp_path}"))
