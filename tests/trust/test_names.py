"""File, folder and class names are printed verbatim, never read as rich markup."""

import contextlib
import io

import numpy as np
import pytest
from PIL import Image

from anyconv.cli import main

NAMES = ["[red]", "[bold]", "a b", "é ü", "x[link=y]z"]  # no "/" in a file name


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """lenet5 trained one epoch on a folder whose classes and run folder have hostile names."""
    root = tmp_path_factory.mktemp("data [b] é")
    rng = np.random.default_rng(0)
    for part, count in (("train", 4), ("test", 1)):
        for c, name in enumerate(NAMES):
            folder = root / part / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = (rng.random((8, 8)) * 40 + 40 * c).astype(np.uint8)
                Image.fromarray(pixels, mode="L").save(folder / f"{i}.png")
    out = root / "run [red] [" / "b] ü"  # the path reads ".../run [red] [/b] ü"
    argv = ["train", "lenet5", "--data", f"folder:{root}", "--out", str(out), "--epochs", "1"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return root, out, " ".join(printed.getvalue().split())


def test_training_prints_hostile_folder_names(hostile_run, capsys):
    root, out, printed = hostile_run
    assert f"run folder {out}" in printed and f"lenet5 on folder:{root}" in printed
    assert (out / "confusion.png").stat().st_size > 1000  # class names drawn as text
    assert main(["evaluate", str(out)]) == 0
    assert str(root) in " ".join(capsys.readouterr().out.split())


def test_predict_prints_file_and_class_names_verbatim(hostile_run, tmp_path, capsys, monkeypatch):
    root, out, _ = hostile_run
    monkeypatch.chdir(tmp_path)
    files = []
    for name in ("[red].png", "x[b].png", "é ü.png"):
        (tmp_path / name).write_bytes((root / "test" / "[red]" / "0.png").read_bytes())
        files.append(name)
    assert main(["predict", str(out), *files, "--top", "5"]) == 0
    text = capsys.readouterr().out
    for name in files:
        assert name in text
    for name in NAMES:  # every class appears among the top 5
        assert name in text


@pytest.mark.parametrize("name", ["[/b]missing", "[red]missing", "é [/] x"])
def test_error_messages_show_names_verbatim(name, tmp_path, capsys):
    name = str(tmp_path / name)  # "/" makes folders: the path holds the text as given
    assert main(["predict", name, "x.png"]) == 2
    assert name in capsys.readouterr().err
    assert main(["train", "--data", f"folder:{name}", "--out", str(tmp_path / "o")]) == 2
    assert name in capsys.readouterr().err
