"""Hostile image folders: a file where a folder belongs, empty and fake images, mixed
modes, symbolic link loops, decompression bombs, 16-bit and float pixels, one class."""

from __future__ import annotations

import contextlib
import os
import re
import struct
import zlib

import numpy as np
import pytest
import torch

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


# -- issue 26: what users bring --------------------------------------------------------


def _sized_tree(root, sizes, mode="RGB"):
    """Two classes of images of the given (width, height) sizes, ImageFolder layout."""
    rng = np.random.default_rng(0)
    for label, c in enumerate(("dark", "light")):
        (root / c).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            level = 60 + 120 * label
            pixels = rng.integers(level - 40, level + 40, (h, w, 3)).astype(np.uint8)
            Image.fromarray(pixels).convert(mode).save(root / c / f"{i}.png")
    return root


def test_a_folder_of_mixed_sizes_trains_evaluates_and_predicts(tmp_path, capsys):
    # was: "box offset can't be negative" in a DataLoader worker for 47x47 to 24x24, and
    # the same crash in evaluate and predict
    sizes = [(47, 47), (79, 13), (1, 1), (3, 70), (24, 24), (25, 23), (61, 61), (47, 30)]
    data = _sized_tree(tmp_path / "imgs", sizes)
    run = tmp_path / "run"
    common = ["--threads", "1", "--workers", "0"]
    argv = ["train", "allcnn", "--data", f"folder:{data}", "--image-size", "24", "--epochs"]
    argv += ["1", "--batch-size", "4", "-o", "width=4", "--quiet", "--no-pictures"]
    assert main([*argv, "--out", str(run), *common]) == 0
    assert main(["evaluate", str(run), "--workers", "0"]) == 0
    assert main(["predict", str(run), str(data / "dark" / "0.png")]) == 0
    printed = _printed(capsys)
    assert "Traceback" not in printed and "box offset" not in printed


EXIF_FORMATS = ("jpg", "png", "webp", "tif")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_pillow_s_exif_transpose(tmp_path, orientation):
    from PIL import ImageOps

    from anyconv.data.images import decode_image, image_info

    pixels = np.random.default_rng(orientation).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = orientation
    for fmt in EXIF_FORMATS:
        path = tmp_path / f"photo.{fmt}"
        img.save(path, exif=exif.tobytes(), **({"quality": 100} if fmt == "jpg" else {}))
        with Image.open(path) as opened:
            expected = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))
        got = decode_image(path)
        assert got.shape == expected.shape and np.array_equal(got, expected), fmt
        assert image_info(path)[1] == (expected.shape[1], expected.shape[0]), fmt


def test_a_portrait_photo_is_read_upright_and_matches_its_folder(tmp_path):
    # was: "rot.jpg: 10x12 pixels, but 0.png is 12x10", against what every viewer shows
    _tree(tmp_path, size=(12, 10))
    stored = np.zeros((12, 10, 3), np.uint8)  # 10 wide, 12 high as stored
    stored[0, :] = 255  # the stored top row: the right column once turned (orientation 6)
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "train" / "a" / "rot.jpg", exif=exif.tobytes())
    d = load_dataset(f"folder:{tmp_path}")
    assert d.input_shape == (3, 10, 12)
    rot = d.x_train[d.y_train.tolist().index(0) + 2]  # a/0.png, a/1.png, a/rot.jpg
    assert rot.shape == (3, 10, 12)
    assert rot[:, :, -1].mean() > 0.9 and rot[:, :, 0].mean() < 0.1


def test_a_folder_nested_1100_deep_is_walked(tmp_path):
    # was: RecursionError from a recursive walk
    from anyconv.data.folder import list_images

    _tree(tmp_path)
    top = tmp_path / "train" / "a"
    depth, here = 1100, os.getcwd()
    os.chdir(top)  # one level at a time: os.makedirs and Path.mkdir(parents=True) recurse
    try:
        for _ in range(depth):
            os.mkdir("x")
            os.chdir("x")
        Image.new("L", (4, 4), 200).save("deep.png")
        deep = top.joinpath(*["x"] * depth)
        found = list_images(top)
        assert found[-1] == deep / "deep.png" and len(found) == 3
        d = load_dataset(f"folder:{tmp_path}")
        assert d.y_train.tolist() == [0, 0, 0, 1, 1]
    finally:  # removed here: pytest's own clean-up (shutil.rmtree) recurses too deep for it
        os.chdir(top.joinpath(*["x"] * depth))
        with contextlib.suppress(FileNotFoundError):
            os.unlink("deep.png")
        for _ in range(depth):
            os.chdir("..")
            os.rmdir("x")
        os.chdir(here)


def test_the_walk_keeps_sorted_depth_first_order(tmp_path):
    from anyconv.data.folder import list_images

    for name in ("b/2.png", "a/z/1.png", "a/0.png", "c.png", "a/z/y/9.png", "b/1.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (2, 2)).save(tmp_path / name)
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert found == sorted(found, key=lambda p: p.split("/"))
    assert found == ["a/0.png", "a/z/1.png", "a/z/y/9.png", "b/1.png", "b/2.png", "c.png"]


@pytest.mark.parametrize(
    "classes", [("invalid", "valid"), ("cat", "train"), ("test", "train", "val")]
)
def test_classes_named_like_splits_are_classes_when_they_hold_images(tmp_path, classes):
    # was: "DIR/train: no such folder; DIR has valid/ but no train/" for classes
    # valid/invalid, and "no class sub-folders" for a class named train
    for c in classes:
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.new("L", (4, 4), 40 * i).save(tmp_path / c / f"{i}.png")
    d = load_dataset(f"folder:{tmp_path}")
    assert d.class_names == list(classes)
    assert len(d.y_train) + len(d.y_test) == 5 * len(classes)


def test_a_train_folder_of_images_beside_a_test_split_is_an_error(tmp_path):
    _tree(tmp_path)
    for f in (tmp_path / "train").rglob("*.png"):
        f.rename(tmp_path / "train" / f"{f.parent.name}{f.name}")
    for d in ("a", "b"):
        (tmp_path / "train" / d).rmdir()
    with pytest.raises(FileNotFoundError, match="holds images but no class sub-folders"):
        load_dataset(f"folder:{tmp_path}")


def test_channels_converts_a_folder_as_torchvision_does(tmp_path):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)).save(
                tmp_path / c / f"{i}.png"
            )
    rgb = load_dataset(f"folder:{tmp_path}")
    grey = load_dataset(f"folder:{tmp_path}", channels=1)
    # ITU-R 601-2 luma, as transforms.Grayscale (PIL's convert("L")), within a grey level
    luma = (rgb.x_train * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, True)
    assert grey.input_shape == (1, 5, 6)
    assert (grey.x_train - luma).abs().max() <= 1 / 255 + 1e-6
    back = load_dataset(f"folder:{tmp_path}", channels=3)
    assert torch.equal(back.x_train, rgb.x_train)
    with pytest.raises(ValueError, match=r"argument 'channels' must be 1 \(grey\) or 3"):
        load_dataset(f"folder:{tmp_path}", channels=2)


def test_a_truncated_image_in_a_streamed_run_is_one_line_naming_it(tmp_path, capsys):
    # was: "Caught ValueError in DataLoader worker process 0. Original Traceback ..."
    data = _sized_tree(tmp_path / "imgs", [(20, 20)] * 6)
    bad = data / "dark" / "3.png"
    bad.write_bytes(bad.read_bytes()[:-60])
    d = load_dataset(f"folder:{data}", stream=True, workers=2, image_size=8, mean=[0.5], std=[1])
    with pytest.raises(ValueError) as error:
        for _ in d.batches("train", torch.arange(len(d.y_train)), 4):
            pass
    assert str(error.value).startswith(f"{bad}: not a readable image")
    assert "Caught" not in str(error.value) and "Traceback" not in str(error.value)
    argv = ["train", "lenet5", "--data", f"folder:{data}", "--stream", "--workers", "2"]
    argv += ["--image-size", "8", "--epochs", "1", "--threads", "1", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--no-pictures"]) == 2
    printed = _printed(capsys)
    assert f"error: {bad}: not a readable image" in printed
    assert "Caught" not in printed and "Traceback" not in printed


def test_a_killed_worker_says_so_in_one_line_with_the_likely_cause():
    # was: a raw "RuntimeError: DataLoader worker (pid N) is killed by signal: Killed."
    import signal

    from anyconv.data.batches import key_batches, load_batches

    class Dies(torch.utils.data.Dataset):
        def __getitem__(self, key):
            if key[0] == 5:
                os.kill(os.getpid(), signal.SIGKILL)
            return torch.zeros(2), key[0]

    with pytest.raises(ChildProcessError) as error:
        for _ in load_batches(Dies(), key_batches(range(12), 2, 0, None), workers=1):
            pass
    message = str(error.value)
    assert "\n" not in message and "worker" in message and "out of memory" in message
    assert "--workers" in message


def test_errors_of_any_kind_in_a_sample_come_back_as_that_error():
    from anyconv.data.batches import key_batches, load_batches

    class Fails(torch.utils.data.Dataset):
        def __getitem__(self, key):
            if key[0] == 3:
                raise OverflowError("Python int too large to convert to C long")
            return torch.zeros(2), key[0]

    for workers in (0, 1):
        with pytest.raises(ValueError, match=r"^Python int too large"):
            list(load_batches(Fails(), key_batches(range(6), 2, 0, None), workers=workers))


@pytest.mark.parametrize("workers", [65, 1000, 2**70])
def test_workers_have_a_maximum(tmp_path, workers, capsys):
    # was: 1000 forked decoders, then "RuntimeError: can't start new thread"
    from anyconv.train import TrainConfig

    _tree(tmp_path)
    with pytest.raises(ValueError, match=r"argument 'workers' must be an int in 0\.\.64"):
        TrainConfig(data=f"folder:{tmp_path}", workers=workers)
    with pytest.raises(ValueError, match=r"argument 'workers' must be an int in 0\.\.64"):
        load_dataset(f"folder:{tmp_path}", workers=workers)
    out = tmp_path / "never"
    argv = ["train", "--data", f"folder:{tmp_path}", "--workers", str(workers)]
    assert main([*argv, "--out", str(out)]) == 2
    assert not out.exists()
    assert "must be an int in 0..64" in _printed(capsys)


@pytest.mark.parametrize("size", ["40000", "1180591620717411303424", "9000,10000"])
def test_absurd_image_sizes_are_refused_before_any_work(tmp_path, size, capsys):
    # was: 4.8 GB per decoded image in every worker; 2**70 an OverflowError in a worker
    _tree(tmp_path)
    out = tmp_path / "never"
    argv = ["train", "--data", f"folder:{tmp_path}", "--image-size", size, "--out", str(out)]
    assert main(argv) == 2
    assert not out.exists()
    printed = _printed(capsys)
    assert "at most 89,478,485 pixels" in printed and "Traceback" not in printed


def test_batches_in_flight_are_bounded_by_the_memory_available(tmp_path, monkeypatch):
    from anyconv.functional.algorithms import memory

    _tree(tmp_path, size=(8, 8))
    d = load_dataset(f"folder:{tmp_path}", image_size=8, workers=2, mean=[0.5], std=[1])
    batch = 4 * 1 * 8 * 8 * 64  # 64 float32 images of 1x8x8
    free = {"bytes": 4 * batch * (2 * 4 + 1)}  # a quarter of it holds 4 ahead per worker
    monkeypatch.setattr(memory, "available_memory", lambda: free["bytes"])
    assert d.prefetch(64) == 4
    free["bytes"] = 4 * batch * (2 * 2 + 1)
    assert d.prefetch(64) == 2
    free["bytes"] = batch
    message = f"{d.name}: 3 batches of 64 images of 1x8x8 (float32; one per decoding worker"
    with pytest.raises(ValueError, match=re.escape(message)):
        d.prefetch(64)
