"""The Explorer page written by ``anyconv.viz.explore``, read back without a browser: one
self-contained file, its data equal to the library's (layer table, fields, feature maps,
class activation maps), its limits and its errors. The page in a real browser:
``test_explorer_browser.py``."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import torch
from browser import page_data

from anyconv.analysis import receptive_field, summary
from anyconv.models import create_model
from anyconv.viz import class_activation_maps, explore
from anyconv.viz.explorer import SCRIPTS, collect, sources


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(6 * 2 * 2, 3),
    ).eval()


def _codes(view, sample, per):
    data = base64.b64decode(view["data"])
    return torch.tensor(list(data[sample * per : (sample + 1) * per]), dtype=torch.float32)


def test_the_page_is_one_file_that_needs_no_network(tmp_path):
    page = explore(_net(), torch.rand(3, 1, 8, 8), tmp_path / "net", title="a <b>small</b> net")
    assert page.name == "net.html"
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>a &lt;b&gt;small&lt;/b&gt; net</title>" in text
    # nothing is fetched: no script or style sheet by reference, no URL loaded or imported
    for pattern in (
        r"<script[^>]+src=",
        r"<link\b",
        r"@import",
        r"url\(",
        r"\bfetch\(",
        r"XMLHttpRequest",
        r"https?://(?!www\.w3\.org/2000/svg)",
    ):
        assert not re.search(pattern, text), pattern
    for name in SCRIPTS:
        source = Path(collect.__file__).with_name(name)
        assert source.read_text(encoding="utf-8") in text
    assert text.count("<script") == 2  # the data and the one script


def test_the_data_cannot_close_its_script_element(tmp_path):
    names = ["</script><script>alert(1)</script>", "b", "c"]
    page = explore(_net(), torch.rand(2, 1, 8, 8), tmp_path / "p.html", class_names=names)
    text = page.read_text(encoding="utf-8")
    assert "</script><script>alert" not in text
    assert page_data(page)["classNames"] == names


def test_layers_fields_and_totals_are_the_librarys(tmp_path):
    net = _net()
    page = explore(net, torch.rand(2, 1, 8, 8), tmp_path / "p.html")
    data = page_data(page)
    rows = [r for r in summary(net, (1, 8, 8)) if r["name"] not in ("total", "(other)")]
    assert [layer["name"] for layer in data["layers"]] == [r["name"] for r in rows]
    fields = receptive_field(net, (1, 8, 8))
    for layer, row in zip(data["layers"], rows):
        assert layer["type"] == row["type"]
        assert layer["outputShape"] == list(row["output_shape"])
        assert (layer["params"], layer["macs"]) == (row["parameters"], row["macs"])
        f = row["receptive_field"]
        if f is None:
            assert layer["rf"] is None and layer["view"]["kind"] == "vector"
        else:
            assert layer["rf"] == {
                "size": list(f.size),
                "jump": list(f.jump),
                "start": list(f.start),
            }
            g = fields[layer["name"]]
            assert (tuple(layer["rf"]["size"]), tuple(layer["rf"]["start"])) == (g.size, g.start)
    total = summary(net, (1, 8, 8))[-1]
    assert data["totals"] == {"params": total["parameters"], "macs": total["macs"]}


def test_every_layers_output_is_stored_to_8_bits_of_its_range(tmp_path):
    net = _net()
    x = torch.rand(3, 1, 8, 8)
    data = page_data(explore(net, x, tmp_path / "p.html"))
    outputs, h = [], x
    for module in net:
        h = module(h)
        outputs.append(h.detach())
    for i, (layer, out) in enumerate(zip(data["layers"], outputs)):
        view = layer["view"]
        per = out[0].numel()
        assert view["shape"] == list(out.shape[1:])
        for s in range(len(x)):
            lo, hi = view["lo"][s], view["hi"][s]
            values = lo + _codes(view, s, per) / 255 * (hi - lo)
            step = (hi - lo) / 255
            assert torch.allclose(values, out[s].flatten(), atol=step / 2 + 1e-6), i
    # the input too, on its own range
    lo, hi = data["input"]["lo"][1], data["input"]["hi"][1]
    values = lo + _codes(data["input"], 1, 64) / 255 * (hi - lo)
    assert torch.allclose(values, x[1].flatten(), atol=(hi - lo) / 510 + 1e-6)


def test_probabilities_and_predictions_are_the_models(tmp_path):
    net = _net()
    x = torch.rand(5, 1, 8, 8)
    data = page_data(explore(net, x, tmp_path / "p.html", labels=[0, 1, 2, 0, 1]))
    probs = net(x).softmax(1)
    for s, sample in enumerate(data["samples"]):
        assert sample["predicted"] == int(probs[s].argmax())
        assert sample["label"] == [0, 1, 2, 0, 1][s]
        assert torch.allclose(torch.tensor(sample["probs"]), probs[s], atol=1e-4)
    assert data["classNames"] == ["0", "1", "2"]


def test_class_activation_maps_are_those_of_viz_cam_for_fcn(tmp_path):
    torch.manual_seed(0)
    net = create_model("fcn", in_channels=1, num_classes=4, input_size=(30,)).eval()
    x = torch.randn(3, 1, 30)
    data = page_data(explore(net, x, tmp_path / "fcn.html"))
    cam = data["cam"]
    expected, _ = class_activation_maps(net, x)
    assert cam["shape"] == [4, 30]
    assert data["layers"][cam["layer"]]["name"] == "features.2.2"
    for s in range(3):
        for k in range(4):
            i = s * 4 + k
            lo, hi = cam["lo"][i], cam["hi"][i]
            got = lo + _codes(cam, i, 30) / 255 * (hi - lo)
            assert torch.allclose(got, expected[s, k], atol=(hi - lo) / 510 + 1e-5)


@pytest.mark.parametrize(
    ("model", "shape", "has_cam"),
    [
        ("c3d", (1, 4, 8, 8), True),  # global average pooling, then Linear
        ("allcnn", (3, 16, 16), True),  # one channel per class, then global pooling
        ("lenet5", (1, 28, 28), False),  # flattened, then Linear: no map per class
    ],
)
def test_class_activation_maps_wherever_the_network_ends_in_global_pooling(
    tmp_path, model, shape, has_cam
):
    torch.manual_seed(0)
    net = create_model(model, in_channels=shape[0], num_classes=5, input_size=shape[1:])
    data = page_data(explore(net, torch.rand(2, *shape), tmp_path / "p.html"))
    assert (data["cam"] is not None) == has_cam


def test_a_plain_torch_model_with_functional_calls_and_an_unfollowed_layer(tmp_path):
    class Odd(torch.nn.Module):  # changes the spatial shape in a way no rule follows
        def forward(self, x):
            return x.flatten(2)[..., :10].unflatten(2, (2, 5))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 3, 3)
            self.odd = Odd()
            self.fc = torch.nn.Linear(30, 2)

        def forward(self, x):
            x = torch.nn.functional.relu(self.conv(x))
            return self.fc(torch.flatten(self.odd(x), 1))

    data = page_data(explore(Net(), torch.rand(2, 1, 6, 6), tmp_path / "p.html"))
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["conv"]["rf"]["size"] == [3, 3]
    assert layers["odd"]["rf"] is None and layers["odd"]["view"] is not None
    assert layers["fc"]["view"]["kind"] == "vector"


def test_video_and_sequence_pages(tmp_path):
    torch.manual_seed(0)
    c3d = create_model("c3d", in_channels=1, num_classes=3, input_size=(4, 8, 8))
    data = page_data(explore(c3d, torch.rand(2, 1, 4, 8, 8), tmp_path / "v.html"))
    assert data["input"]["kind"] == "video"
    conv = data["layers"][0]
    assert conv["view"]["shape"] == [16, 4, 8, 8] and conv["view"]["axes"] == [0, 1, 2]
    assert next(k["shown"] for k in data["kernels"]) == [16, 1, 3, 3, 3]
    frames = create_model("frame2d", in_channels=1, num_classes=3, input_size=(4, 8, 8))
    data = page_data(explore(frames, torch.rand(1, 1, 4, 8, 8), tmp_path / "f.html"))
    conv = data["layers"][0]  # frames folded into the batch are put back as an axis
    assert conv["view"]["shape"] == [16, 4, 8, 8] and conv["rf"]["size"] == [1, 3, 3]


def test_kernels_of_every_convolution_trimmed_to_a_readable_grid(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv1d(2, 40, 5), torch.nn.Conv1d(40, 3, 3))
    data = page_data(explore(net, torch.rand(1, 2, 20), tmp_path / "k.html"))
    first, second = data["kernels"]
    assert first["shape"] == [40, 2, 5] and first["shown"] == [32, 2, 5]
    assert second["shape"] == [3, 40, 3] and second["shown"] == [3, 16, 3]
    w = net[1].weight.detach()[:, :16]
    got = first and (
        second["lo"]
        + torch.tensor(list(base64.b64decode(second["data"]))) / 255 * (second["hi"] - second["lo"])
    )
    assert torch.allclose(got, w.flatten(), atol=(second["hi"] - second["lo"]) / 510 + 1e-6)


def test_wide_layers_keep_their_first_channels_within_the_budget(tmp_path, monkeypatch):
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 64, 3, padding=1), torch.nn.Conv2d(64, 2, 1))
    monkeypatch.setattr(collect, "MAP_BUDGET", 10_000)
    data = page_data(explore(net, torch.rand(4, 1, 8, 8), tmp_path / "p.html"))
    wide, narrow = data["layers"]
    assert wide["view"]["channels"] < 64 and narrow["view"]["channels"] == 2
    stored = sum(len(base64.b64decode(layer["view"]["data"])) for layer in data["layers"])
    assert stored + 4 * 64 <= 10_000
    monkeypatch.setattr(collect, "MAP_BUDGET", 500)
    with pytest.raises(ValueError, match=r"explore\(\): argument 'inputs' must be samples whose"):
        explore(net, torch.rand(4, 1, 8, 8), tmp_path / "q.html")


def test_lenet5_on_16_mnist_sized_samples_stays_small(tmp_path):
    # the page's size does not depend on the values: 8-bit codes of fixed count
    net = create_model("lenet5", in_channels=1, num_classes=10, input_size=(28, 28))
    page = explore(net, torch.rand(16, 1, 28, 28), tmp_path / "lenet5.html")
    assert page.stat().st_size <= 5_000_000
    assert page.stat().st_size <= 1_000_000  # about 0.45 MB measured


def test_channel_cap_is_the_largest_that_fits():
    sizes = [(16, 100), (64, 50), (3, 10)]
    cap = collect.channel_cap(sizes, 1000, 3000)
    used = lambda c: 1000 + sum(min(n, c) * per for n, per in sizes)  # noqa: E731
    assert used(cap) <= 3000 < used(cap + 1)
    assert collect.channel_cap(sizes, 0, 10**9) == 64
    assert collect.channel_cap(sizes, 3000, 3000) is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "lenet5"}, TypeError, r"argument 'model' must be a torch.nn.Module; got 'str'"),
        ({"inputs": torch.rand(8, 8)}, ValueError, r"argument 'inputs' must be a batch"),
        ({"inputs": torch.rand(0, 1, 8, 8)}, ValueError, r"1 to 256 samples"),
        ({"inputs": torch.rand(257, 1, 8, 8)}, ValueError, r"1 to 256 samples.*257"),
        ({"inputs": torch.full((1, 1, 8, 8), float("nan"))}, ValueError, r"finite values"),
        ({"inputs": torch.ones(2, 1, 8, 8, dtype=torch.int64)}, TypeError, r"'inputs'"),
        (
            {"inputs": torch.rand(2, 1, 5, 5)},
            ValueError,
            r"argument 'inputs' must be samples of a shape the model takes .*\(N, 1, 5, 5\)",
        ),
        ({"labels": [0]}, ValueError, r"argument 'labels' must be 2 class indices.*1 labels"),
        ({"labels": [0, 7]}, ValueError, r"'labels' must be class indices in 0..2; got 7"),
        ({"labels": [0.0, 1.0]}, ValueError, r"argument 'labels'"),
        ({"class_names": ["a", "b"]}, ValueError, r"'class_names' must be 3 names.*2 names"),
        ({"class_names": "abc"}, TypeError, r"'class_names' must be a non-empty list"),
        ({"path": 3}, TypeError, r"argument 'path'"),
        ({"title": 3}, TypeError, r"argument 'title'"),
    ],
)
def test_bad_arguments_are_refused_with_anyconvs_message(tmp_path, kwargs, error, match):
    args = {"model": _net(), "inputs": torch.rand(2, 1, 8, 8), "path": tmp_path / "p.html"}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        explore(args.pop("model"), args.pop("inputs"), args.pop("path"), **args)
    assert not (tmp_path / "p.html").exists()


def test_a_folder_as_the_path_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        explore(_net(), torch.rand(1, 1, 8, 8), tmp_path)


def _run_folder(tmp_path, metrics):
    from anyconv.data import Splits
    from anyconv.train.run import RunFolder, run_config

    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])
    data = Splits(x, y, x, y, 3, "image", "random", ["a", "b", "c"])
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    folder.write_model(
        run_config(model="lenet5", model_kwargs={}, data_spec="random", data=data, train={}),
        _net(),
    )
    (folder.path / "metrics.json").write_text(json.dumps(metrics))
    return folder.path


def test_a_runs_history_confusion_and_class_names(tmp_path):
    history = [
        {"epoch": 1, "loss": 1.5, "accuracy": 0.5, "val_loss": 1.2, "val_accuracy": 0.6},
        {"epoch": 2, "loss": 0.9, "accuracy": 0.7, "test_accuracy": 0.75},
    ]
    run = _run_folder(
        tmp_path,
        {
            "history": history,
            "confusion": [[2, 0, 0], [0, 1, 0], [1, 0, 0]],
            "test_accuracy": 0.75,
            "epochs": 2,
        },
    )
    data = page_data(explore(_net(), torch.rand(2, 1, 8, 8), tmp_path / "p.html", run_dir=run))
    assert data["run"]["history"] == history
    assert data["run"]["confusion"] == [[2, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert data["run"]["test_accuracy"] == 0.75 and data["run"]["model"] == "lenet5"
    assert data["classNames"] == ["a", "b", "c"] and data["title"] == "lenet5 trained on random"


@pytest.mark.parametrize(
    ("metrics", "match"),
    [
        ("{not json", r"metrics.json: not valid JSON"),
        ("[1, 2]", r"metrics.json: malformed metrics \(not a JSON object\)"),
        ('{"history": [{"epoch": 1, "loss": "low"}]}', r"history's 'loss' must be a finite"),
        ('{"history": 3}', r"'history' must be a list of objects"),
        ('{"confusion": [[1, 2], [3, 4]]}', r"'confusion' must be 3 rows of 3 counts"),
    ],
)
def test_a_tampered_metrics_file_is_one_error_naming_it(tmp_path, metrics, match):
    run = _run_folder(tmp_path, {})
    (run / "metrics.json").write_text(metrics)
    with pytest.raises(ValueError, match=match):
        explore(_net(), torch.rand(1, 1, 8, 8), tmp_path / "p.html", run_dir=run)


def test_a_folder_that_is_no_run_gets_evaluates_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config.json is missing; is .* a run folder"):
        explore(_net(), torch.rand(1, 1, 8, 8), tmp_path / "p.html", run_dir=tmp_path)
    with pytest.raises(NotADirectoryError, match="no such run folder"):
        explore(_net(), torch.rand(1, 1, 8, 8), tmp_path / "p.html", run_dir=tmp_path / "x")


def test_a_model_without_class_scores_is_shown_without_a_prediction(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())  # maps out, no logits
    data = page_data(explore(net, torch.rand(2, 1, 6, 6), tmp_path / "p.html"))
    assert [s["predicted"] for s in data["samples"]] == [None, None]
    assert data["classNames"] is None and data["cam"] is None


def test_samples_are_picked_by_class_with_some_mistakes():
    torch.manual_seed(0)
    y = torch.randint(0, 4, (200,))
    guess = y.clone()
    mistakes = torch.tensor([5, 17, 40, 41, 90, 150])
    guess[mistakes] = (y[mistakes] + 1) % 4
    x = torch.nn.functional.one_hot(guess, 4).float().unsqueeze(1)  # (N, 1, 4)
    net = torch.nn.Flatten()  # its scores are the inputs: wrong exactly on `mistakes`
    xs, ys = sources.pick_samples(net, x, y, 12)
    assert ys.tolist() == sorted(ys.tolist()) and set(ys.tolist()) == {0, 1, 2, 3}
    assert int((net(xs).argmax(1) != ys).sum()) == 3  # a quarter: the first three mistakes
    assert [int((y == k).sum() > 0) for k in range(4)] == [1, 1, 1, 1]
    counts = torch.bincount(ys, minlength=4)
    assert counts.max() - counts.min() <= 2  # the classes in turn


@pytest.mark.parametrize("shape", [(2, 30), (1, 12, 16), (3, 4, 10, 10)])
def test_synthetic_inputs_have_structure_and_repeat_with_the_seed(shape):
    x = sources.synthetic_inputs(shape, 3, seed=1)
    assert x.shape == (3, *shape) and x.min() >= 0 and x.max() <= 1
    assert torch.equal(x, sources.synthetic_inputs(shape, 3, seed=1))
    assert not torch.equal(x[0], x[1]) and x.std() > 0.1


def test_explore_model_on_a_data_set(tmp_path):
    from anyconv.data import load_dataset

    data = load_dataset("digits")
    net = create_model("lenet5", in_channels=1, num_classes=10, input_size=(8, 8))
    page = sources.explore_model(net, tmp_path / "p.html", data=data, samples=5, title="t")
    got = page_data(page)
    assert len(got["samples"]) == 5 and all(s["label"] is not None for s in got["samples"])
    with pytest.raises(ValueError, match=r"explore_model\(\): argument 'input_shape'"):
        sources.explore_model(net, tmp_path / "q.html")
