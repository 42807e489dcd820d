"""What users give ``predict`` and ``evaluate`` (issue 26): images of any mode converted to
the run's channels as torchvision converts them, hostile ``.npy`` files refused from their
header naming the file (never unpickled, never advised to be), one bad file among many
reported while the others are predicted, and other data sets evaluated as the run saw its
own (its options reach only loaders that take them)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from anyconv.cli import main
from anyconv.data.files import load_inputs
from anyconv.train.run import load_run_data

Image = pytest.importorskip("PIL.Image")


def _printed(capsys) -> str:
    out = capsys.readouterr()
    return " ".join((out.out + out.err).split())


def _rgb_folder(root, mode="RGB", n=6, size=(32, 32)):
    rng = np.random.default_rng(0)
    for label, c in enumerate(("a", "b", "c")):
        (root / c).mkdir(parents=True)
        for i in range(n):
            level = 40 + 80 * label
            pixels = rng.integers(level - 30, level + 30, (*size[::-1], 3)).astype(np.uint8)
            Image.fromarray(pixels).convert(mode).save(root / c / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A grey run (mlp on digits, inputs (1, 8, 8)) and an RGB folder run (allcnn on
    32x32 PNGs with --image-size 8, normalised per channel)."""
    root = tmp_path_factory.mktemp("runs")
    common = ["--epochs", "1", "--threads", "1", "--quiet", "--no-pictures"]
    grey = root / "grey"
    assert main(["train", "mlp", *common, "--out", str(grey)]) == 0
    data = _rgb_folder(root / "imgs")
    folder = root / "folder"
    argv = ["train", "allcnn", "-o", "width=4", "--data", f"folder:{data}", "--image-size", "8"]
    assert main([*argv, "--workers", "0", *common, "--out", str(folder)]) == 0
    return {"grey": grey, "folder": folder, "root": root}


# -- images of every mode --------------------------------------------------------------


def _image(path, mode, size=(8, 8), seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (*size[::-1], 4), dtype=np.uint8)
    Image.fromarray(pixels, "RGBA").convert(mode).save(path)
    return path


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA", "L", "CMYK", "1"])
def test_any_image_mode_converts_to_grey_as_torchvision_s_grayscale(tmp_path, mode):
    # was: "a colour image (mode RGB), but grey was asked for"
    path = _image(tmp_path / ("a.jpg" if mode == "CMYK" else "a.png"), mode)
    x = load_inputs([path], (1, 8, 8))
    with Image.open(path) as img:  # PIL's convert("L"): what Grayscale does to PIL images
        img = img.convert("RGBA") if "transparency" in img.info else img
        expected = np.asarray(img.convert("L"), np.float32) / 255
    assert x.shape == (1, 1, 8, 8)
    np.testing.assert_allclose(x[0, 0].numpy(), expected, atol=1e-6)


def test_luma_is_itu_r_601_2():
    # an independent check of the formula: L = 0.299 R + 0.587 G + 0.114 B
    import tempfile
    from pathlib import Path

    from anyconv.data.images import decode_image

    rgb = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        Image.fromarray(rgb).save(Path(tmp) / "c.png")
        grey = decode_image(Path(tmp) / "c.png", channels=1)[:, :, 0].astype(float)
    assert np.abs(grey - rgb @ [0.299, 0.587, 0.114]).max() <= 1


@pytest.mark.parametrize("mode", ["L", "P", "LA", "RGBA", "I;16"])
def test_any_image_mode_converts_to_rgb(tmp_path, mode):
    path = tmp_path / "a.png"
    if mode == "I;16":
        Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).save(path)
    else:
        _image(path, mode)
    x = load_inputs([path], (3, 8, 8))
    with Image.open(path) as img:
        if mode == "I;16":
            expected = np.repeat(np.asarray(img, np.float32)[None] / 65535, 3, axis=0)
        else:
            img = img.convert("RGBA") if "transparency" in img.info else img
            expected = np.asarray(img.convert("RGB"), np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(x[0].numpy(), expected, atol=1e-6)


def test_four_channel_runs_take_rgba(tmp_path):
    rgba = _image(tmp_path / "a.png", "RGBA")
    rgb = _image(tmp_path / "b.png", "RGB")
    x = load_inputs([rgba, rgb], (4, 8, 8))
    with Image.open(rgba) as img:
        expected = np.asarray(img, np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(x[0].numpy(), expected, atol=1e-6)
    assert torch.equal(x[1, 3], torch.ones(8, 8))  # an opaque image's alpha


def test_a_run_of_other_channels_says_what_it_takes(tmp_path):
    path = _image(tmp_path / "a.png", "RGB")
    message = "the model takes 2 channels; images convert to 1 (grey), 3 (RGB), 4 (RGBA)"
    with pytest.raises(ValueError, match=re.escape(f"{path}: an image, but {message}")):
        load_inputs([path], (2, 8, 8))


def test_predict_converts_a_colour_file_for_a_grey_run(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # short names: the table shows them whole
    _image(tmp_path / "photo.png", "RGB", size=(30, 20))
    assert main(["predict", str(runs["grey"]), "photo.png"]) == 0
    printed = _printed(capsys)
    assert "photo.png" in printed and "grey was asked for" not in printed


# -- one bad file among many -----------------------------------------------------------


def test_one_bad_file_is_reported_and_the_others_predicted(runs, tmp_path, monkeypatch, capsys):
    # was: the first bad file aborted the whole batch
    monkeypatch.chdir(tmp_path)  # short names: the table shows them whole
    good = [_image(tmp_path / f"good{i}.png", "L", seed=i) for i in range(2)]
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    text = tmp_path / "text.npy"
    text.write_text("1 2 3")
    files = [p.name for p in (good[0], fake, good[1], text, tmp_path / "missing.png")]
    assert main(["predict", str(runs["grey"]), *files]) == 2
    out = capsys.readouterr()
    assert "good0.png" in out.out and "good1.png" in out.out
    errors = [line for line in out.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 4, out.err
    assert errors[0].startswith("error: fake.png: not a readable image")
    assert errors[1].startswith("error: text.npy: not a .npy array")
    assert errors[2].startswith("error: missing.png: no such file")
    assert errors[3] == "error: 3 of 5 files could not be predicted"
    assert "Traceback" not in out.err


def test_all_files_bad_prints_no_empty_table(runs, tmp_path, capsys):
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    assert main(["predict", str(runs["grey"]), str(fake)]) == 2
    out = capsys.readouterr()
    assert out.out.strip() == "" and "1 of 1 files could not be predicted" in out.err


# -- .npy files from their header ------------------------------------------------------


def _npy_cases(tmp_path):
    import numpy.lib.format as fmt

    np.save(tmp_path / "empty.npy", np.zeros((0, 1, 8, 8)))
    (tmp_path / "text.npy").write_text("1 2 3\n")
    np.save(tmp_path / "strings.npy", np.array(["a", "b"]))
    np.savez(tmp_path / "archive.npz", x=np.zeros(3))
    (tmp_path / "archive.npz").rename(tmp_path / "renamed.npy")
    np.save(tmp_path / "complex.npy", np.zeros((8, 8), complex))
    np.save(tmp_path / "objects.npy", np.array([1, "a"], object), allow_pickle=True)
    np.save(tmp_path / "records.npy", np.zeros(3, [("a", "f4"), ("b", "i4")]))
    with (tmp_path / "lying.npy").open("wb") as f:
        fmt.write_array_header_1_0(
            f, {"shape": (10_000, 1000, 1000), "fortran_order": False, "descr": "<f4"}
        )
        f.write(b"\0" * 100)
    with (tmp_path / "huge.npy").open("wb") as f:  # 37 GB, sparse on disk
        fmt.write_array_header_1_0(
            f, {"shape": (9_250, 1000, 1000), "fortran_order": False, "descr": "<f4"}
        )
        f.truncate(f.tell() + 37_000_000_000)
    (tmp_path / "nothing.npy").write_bytes(b"")


NPY_CASES = {
    "empty": "holds no inputs (shape (0, 1, 8, 8)); give at least one input (1, 8, 8)",
    "text": "not a .npy array (a .npy file starts with \\x93NUMPY; this one with the bytes "
    "31 20 32 20 33 0a)",
    "strings": "holds strings (dtype <U1); inputs must be numbers",
    "renamed": "a zip archive (an .npz file?), not a .npy array",
    "complex": "holds complex numbers (dtype complex128); a model takes real inputs",
    "objects": "holds Python objects (dtype object), which anyconv never loads",
    "records": "holds raw bytes or records (dtype",
    "lying": "its header declares shape (10000, 1000, 1000) of float32 (40,000,000,000 bytes), "
    "but the file holds 100 bytes of data",
    "huge": "an array of shape (9250, 1000, 1000) (float32) would need about 37.0 GB, ",
    "nothing": "not a .npy array",
}


@pytest.mark.parametrize("case", sorted(NPY_CASES))
def test_hostile_npy_files_are_refused_naming_the_file(tmp_path, monkeypatch, case):
    from anyconv.functional.algorithms import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)
    _npy_cases(tmp_path)
    path = tmp_path / f"{case}.npy"
    with pytest.raises(ValueError) as error:
        load_inputs([path], (1, 8, 8))
    message = str(error.value)
    assert message.startswith(f"{path}: {NPY_CASES[case]}"), message
    assert "pickle" not in message and "\n" not in message


def test_complex_values_give_no_raw_numpy_warning(tmp_path):
    import warnings

    np.save(tmp_path / "c.npy", np.ones((8, 8), complex))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="complex numbers"):
            load_inputs([tmp_path / "c.npy"], (1, 8, 8))


def test_the_command_names_each_hostile_npy(runs, tmp_path, monkeypatch, capsys):
    from anyconv.functional.algorithms import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)
    _npy_cases(tmp_path)
    files = [tmp_path / f"{case}.npy" for case in sorted(NPY_CASES)]
    assert main(["predict", str(runs["grey"]), *map(str, files)]) == 2
    err = capsys.readouterr().err
    for path in files:
        assert f"error: {path}: " in err
    assert "pickle" not in err and "Traceback" not in err and "torch.cat" not in err


# -- evaluate on other data ------------------------------------------------------------


def _config(run):
    return json.loads((run / "config.json").read_text())


def test_evaluate_a_folder_run_on_digits_blames_the_shape_not_image_size(runs, capsys):
    # was: "argument 'image_size' must be given only with 'folder:' data"
    assert main(["evaluate", str(runs["folder"]), "--data", "digits"]) == 2
    printed = _printed(capsys)
    assert "image_size" not in printed
    assert "digits gives image (1, 8, 8), 10 classes" in printed


def test_evaluate_a_folder_run_on_npz_of_the_same_shape(runs, tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    path = tmp_path / "same.npz"
    np.savez(path, x_train=x, y_train=np.arange(6) % 3, x_test=x, y_test=np.arange(6) % 3)
    assert main(["evaluate", str(runs["folder"]), "--data", f"npz:{path}"]) == 0
    printed = _printed(capsys)
    assert "image_size" not in printed and "test accuracy" in printed
    # the run's per-channel normalisation is applied, as to its own training images
    config = _config(runs["folder"])
    data = load_run_data(config, f"npz:{path}")
    mean = torch.tensor(config["data_options"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(config["data_options"]["std"]).view(1, 3, 1, 1)
    raw = torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    torch.testing.assert_close(data.x_test, (raw - mean) / std)
    assert data.normalization["mean"] == config["data_options"]["mean"]


def test_evaluate_an_rgb_run_on_a_grey_folder(runs, tmp_path, capsys):
    # was: "argument 'mean' must be 1 numbers"
    grey = _rgb_folder(tmp_path / "grey", mode="L", n=3, size=(20, 12))
    assert main(["evaluate", str(runs["folder"]), "--data", f"folder:{grey}"]) == 0
    assert "test accuracy" in _printed(capsys)
    config = _config(runs["folder"])
    data = load_run_data(config, f"folder:{grey}", workers=0)
    assert data.input_shape == (3, 8, 8)
    assert list(data.transform.mean) == config["data_options"]["mean"]
    x, _ = next(iter(data.batches("test", torch.arange(1), 1)))
    assert torch.allclose(
        x[0, 0] * data.transform.std[0] + data.transform.mean[0],
        x[0, 1] * data.transform.std[1] + data.transform.mean[1],
        atol=1e-6,
    )


def test_evaluate_with_an_empty_data_spec_is_an_error(runs, capsys):
    # was: the run's own data, evaluated as if nothing had been given
    assert main(["evaluate", str(runs["grey"]), "--data", ""]) == 2
    printed = _printed(capsys)
    assert "argument 'spec' must be a data set spec" in printed and "got ''" in printed
    assert "test accuracy" not in printed


def test_evaluate_on_its_own_data_repeats_the_run_s_split_and_transform(runs, capsys):
    folder = runs["folder"]
    assert main(["evaluate", str(folder), "--workers", "0"]) == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    assert f"test accuracy: {metrics['test_accuracy']:.2%}" in _printed(capsys)


def test_evaluate_workers_have_a_maximum(runs, capsys):
    # was: 1000 forked decoders, then "RuntimeError: can't start new thread"
    assert main(["evaluate", str(runs["folder"]), "--workers", "1000"]) == 2
    assert "argument 'workers' must be an int in 0..64" in _printed(capsys)
