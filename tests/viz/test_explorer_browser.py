"""The Explorer page in a real browser (headless Chromium, offline, a fresh profile): it
loads without a console error; its test hook ``window.anyconv`` agrees with the library
(the layer table, fields of random positions, hundreds of random arithmetic specs);
pointing at a map position draws the box where its field is, pointing at the input marks
the positions it influences; ``select(i)`` shows the model's prediction; the picture is
not blank. The default profile checks one small trained network on digits; the ``slow``
profile checks c3d (video), fcn (sequences), a plain ``torch.nn`` model, LeNet-5 on MNIST
and thousands of arithmetic specs."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from browser import page_data, severe

from anyconv.analysis import field_maps, receptive_field, summary
from anyconv.models import create_model
from anyconv.padding import PADDING_RULES, output_shape
from anyconv.viz import explore

# beside the project, as tests/data/test_idx.py finds it; ANYCONV_MNIST points elsewhere
MNIST = Path(
    os.environ.get("ANYCONV_MNIST")
    or Path(__file__).parents[2] / ".." / "shared" / "datasets" / "mnist"
).resolve()


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16
    return x[:1500], torch.tensor(d.target[:1500]), x[1500:], torch.tensor(d.target[1500:])


def _trained_net(x, y, steps=40):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding="same"),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 2 * 2, 10),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        index = torch.randint(0, len(x), (64,), generator=g)
        loss = torch.nn.functional.cross_entropy(net(x[index]), y[index])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def _run_folder(root, net, x, y):
    """A run folder as ``anyconv train`` leaves it (config, weights, metrics)."""
    from anyconv.data import Splits
    from anyconv.train.run import RunFolder, run_config

    data = Splits(x, y, x, y, 10, "image", "digits")
    folder = RunFolder(root / "run")
    folder.path.mkdir(parents=True)
    folder.write_model(
        run_config(model="digits-net", model_kwargs={}, data_spec="digits", data=data, train={}),
        net,
    )
    with torch.no_grad():
        predicted = net(x).argmax(1)
    confusion = torch.zeros(10, 10, dtype=torch.int64)
    confusion.index_put_((y, predicted), torch.ones_like(y), accumulate=True)
    history = [
        {
            "epoch": e,
            "loss": 2.0 / e,
            "accuracy": 1 - 0.5 / e,
            "val_loss": 2.2 / e,
            "val_accuracy": 1 - 0.6 / e,
        }
        for e in range(1, 6)
    ]
    metrics = {
        "history": history,
        "confusion": confusion.tolist(),
        "test_accuracy": float((predicted == y).float().mean()),
        "epochs": 5,
    }
    (folder.path / "metrics.json").write_text(json.dumps(metrics))
    return folder.path


class Page:
    """A written page, its model, samples and the data it embeds."""

    def __init__(self, path, model, x, y=None):
        self.path, self.model, self.x, self.y = path, model, x, y
        self.shape = tuple(x.shape[1:])
        self.data = page_data(path)


@pytest.fixture(scope="module")
def digits_page(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore")
    x, y, xt, yt = _digits()
    net = _trained_net(x, y)
    run = _run_folder(root, net, xt, yt)
    path = explore(net, xt[:16], root / "digits.html", labels=yt[:16], run_dir=run)
    return Page(path, net, xt[:16], yt[:16])


@pytest.fixture(scope="module")
def opened(browser, digits_page):
    """The digits page, opened once for the module's tests (each leaves it usable)."""
    console = browser.open(digits_page.path)
    return browser, digits_page, console


# -- checks shared by the default and the slow pages ---------------------------------------


def check_loads(browser, page, console):
    assert severe(console + browser.console()) == []
    assert browser.run("return document.body.dataset.ready") is not None
    keys = browser.run("return Object.keys(window.anyconv).sort()")
    assert keys == ["layers", "outputShape", "receptiveField", "select"]


def check_layers(browser, page):
    layers = browser.run("return window.anyconv.layers")
    rows = [r for r in summary(page.model, page.shape) if r["name"] not in ("total", "(other)")]
    assert len(layers) == len(rows)
    for layer, row in zip(layers, rows):
        f = row["receptive_field"]
        assert layer == {
            "name": row["name"],
            "type": row["type"],
            "outputShape": list(row["output_shape"]),
            "params": row["parameters"],
            "macs": row["macs"],
            "rf": None
            if f is None
            else {"size": list(f.size), "jump": list(f.jump), "start": list(f.start)},
        }


def check_fields(browser, page, per_layer=6, seed=0):
    """Random positions of every layer with a field: the hook's box equals the library's
    field (and, at the centre position, the measured field map's box)."""
    rng = random.Random(seed)
    fields = receptive_field(page.model, page.shape)
    queries, expected = [], []
    for layer in page.data["layers"]:
        f = fields.get(layer["name"])
        if f is None or layer["view"] is None or layer["view"]["kind"] != "map":
            continue
        sizes = dict(zip(layer["view"]["axes"], layer["view"]["shape"][1:]))
        for _ in range(per_layer):
            index = [rng.randrange(sizes.get(a, 1)) for a in range(len(f.size))]
            queries.append([layer["name"], index])
            lo = [f.start[a] + i * f.jump[a] - (f.size[a] - 1) / 2 for a, i in enumerate(index)]
            expected.append({"lo": lo, "hi": [v + s for v, s in zip(lo, f.size)]})
    assert queries
    got = browser.run(
        "return arguments[0].map(([n, i]) => window.anyconv.receptiveField(n, i))", queries
    )
    for q, g, e in zip(queries, got, expected):
        assert g == e, q  # the same formula in doubles: equal to the last bit
    # the centre position of the last map, against the gradient-measured box
    last = next(q for q in queries if q[0] == queries[-1][0])[0]
    fm = field_maps(page.model, page.shape, [last])[0]
    box = browser.run(
        "return window.anyconv.receptiveField(arguments[0], arguments[1])", last, list(fm.position)
    )
    assert [(lo, hi - 1) for lo, hi in zip(box["lo"], box["hi"])] == list(fm.box())


def _spec(rng):
    """A random output_shape spec as the page's hook takes it, about a third refused."""
    ndim = rng.choice((1, 1, 2, 2, 3))

    def ints(lo, hi):
        return [rng.randint(lo, hi) for _ in range(ndim)]

    def entry():
        kind = rng.random()
        if kind < 0.5:
            return rng.choice(PADDING_RULES)
        if kind < 0.75:
            return rng.randint(0, 4)
        return [rng.randint(0, 4), rng.randint(0, 4)]

    spec = {"input": ints(0, 14), "kernel": ints(1, 6)}
    if rng.random() < 0.7:
        spec["stride"] = ints(1, 4) if rng.random() < 0.7 else rng.randint(1, 4)
    if rng.random() < 0.6:
        spec["dilation"] = ints(1, 3) if rng.random() < 0.7 else rng.randint(1, 3)
    r = rng.random()
    spec["padding"] = (
        [entry() for _ in range(ndim)]
        if r < 0.6
        else rng.choice(PADDING_RULES)
        if r < 0.85
        else rng.randint(0, 3)
    )
    if rng.random() < 0.15:
        spec["ceilMode"] = True
    # what anyconv refuses: bad types, lengths, ranges, rules, extents
    bad = rng.random()
    if bad < 0.04:
        spec["kernel"] = [0] * ndim
    elif bad < 0.07:
        spec["stride"] = -1
    elif bad < 0.10:
        spec["padding"] = "middle"
    elif bad < 0.13:
        spec["padding"] = [entry() for _ in range(ndim + 1)]
    elif bad < 0.16:
        spec["padding"] = [[1, -2]] * ndim
    elif bad < 0.18:
        spec["kernel"] = [2.5] * ndim
    elif bad < 0.20:
        spec["input"] = [True] * ndim
    elif bad < 0.22:
        spec["input"] = []
    elif bad < 0.24:
        spec["dilation"] = [2**47] * ndim  # past 2**48 once padded
        spec["padding"] = "full"
    elif bad < 0.26:
        spec["input"] = [2**48 - 1] * ndim  # at the limit: allowed with no padding
        spec["padding"] = "valid"
    elif bad < 0.28:
        spec["stride"] = [2**48 + 1] * ndim
    elif bad < 0.30:
        spec["input"] = [-3] * ndim
    elif bad < 0.32:
        spec["kernel"] = [1, 2, 3, 4][: ndim + 1]
    return spec


def _library(spec):
    try:
        return list(
            output_shape(
                tuple(spec["input"]) if isinstance(spec["input"], list) else spec["input"],
                spec["kernel"],
                stride=spec.get("stride", 1),
                padding=_tuples(spec.get("padding", "valid")),
                dilation=spec.get("dilation", 1),
                ceil_mode=spec.get("ceilMode", False),
            )
        )
    except (ValueError, TypeError):
        return None


def _tuples(padding):
    if isinstance(padding, list):
        return tuple(tuple(p) if isinstance(p, list) else p for p in padding)
    return padding


def check_arithmetic(browser, count, seed):
    rng = random.Random(seed)
    specs = [_spec(rng) for _ in range(count)]
    got = browser.run("return arguments[0].map((s) => window.anyconv.outputShape(s))", specs)
    expected = [_library(s) for s in specs]
    refused = sum(e is None for e in expected)
    assert 0.15 * count < refused < 0.6 * count  # both kinds are exercised
    for spec, g, e in zip(specs, got, expected):
        assert g == e, spec


def _geometry(element):
    return json.loads(element.get_attribute("data-geometry"))


def _pixel(geometry, position, ndim):
    """Canvas pixel of the centre of map position ``position`` in its first tile that shows
    it, and that tile."""
    s, margin = geometry["scale"], geometry["margin"]
    for x, y, w, h, _channel, frame in geometry["tiles"]:
        if ndim == 3 and frame != position[0]:
            continue
        px = x + (margin[-1] + position[-1] + 0.5) * s
        py = y + h / 2 if ndim == 1 else y + (margin[-2] + position[-2] + 0.5) * s
        return px, py, (x, y, w, h, frame)
    raise AssertionError("no tile shows the position")


def _expected_rects(geometry, box, ndim):
    """Per tile of the input's view, the rectangle the page must mark for the input box
    ``{lo, hi}`` (clipped to the tile), or None."""
    s, margin = geometry["scale"], geometry["margin"]
    found = []
    for x, y, w, h, _, frame in geometry["tiles"]:
        if ndim == 3 and not box["lo"][0] <= frame < box["hi"][0]:
            found.append(None)
            continue
        x0 = max(x, x + (box["lo"][-1] + margin[-1]) * s)
        x1 = min(x + w, x + (box["hi"][-1] + margin[-1]) * s)
        y0, y1 = y, y + h
        if ndim >= 2:
            y0 = max(y, y + (box["lo"][-2] + margin[-2]) * s)
            y1 = min(y + h, y + (box["hi"][-2] + margin[-2]) * s)
        found.append((x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None)
    return found


def _marked(pixels, tile):
    """Bounding box ``(x0, y0, x1, y1)`` of the drawn pixels inside a tile, or None."""
    x, y, w, h = (round(v) for v in tile[:4])
    alpha = pixels[y : y + h, x : x + w, 3] > 40
    if not alpha.any():
        return None
    rows, cols = np.nonzero(alpha)
    return x + cols.min(), y + rows.min(), x + cols.max() + 1, y + rows.max() + 1


def check_pointing(browser, page, picks=4, seed=0):
    """Point at random positions of random layers: the input's overlay marks exactly the
    position's field (clipped to what is drawn), and an earlier layer marks what feeds it."""
    rng = random.Random(seed)
    fields = receptive_field(page.model, page.shape)
    ndim = len(page.shape) - 1
    layers = [
        (i, layer)
        for i, layer in enumerate(page.data["layers"])
        if layer["rf"]
        and layer["view"]
        and layer["view"]["kind"] == "map"
        and layer["name"] in fields
    ]
    overlay = browser.find("#input-overlay")
    geometry = _geometry(overlay)
    for i, layer in rng.sample(layers, min(picks, len(layers))):
        base = browser.find(f"#layer-{i} canvas.base")
        position = [rng.randrange(n) for n in layer["view"]["shape"][1:]]
        px, py, _ = _pixel(_geometry(base), position, len(position))
        browser.point(base, px, py)
        f = fields[layer["name"]]
        index = [0] * ndim
        for d, a in enumerate(layer["view"]["axes"]):
            index[a] = position[d]
        lo = [f.start[a] + index[a] * f.jump[a] - (f.size[a] - 1) / 2 for a in range(ndim)]
        box = {"lo": lo, "hi": [v + s for v, s in zip(lo, f.size)]}
        pixels = browser.canvas_pixels(overlay)
        for tile, rect in zip(geometry["tiles"], _expected_rects(geometry, box, ndim)):
            got = _marked(pixels, tile)
            if rect is None:
                assert got is None, (layer["name"], position, tile)
            else:
                assert got is not None, (layer["name"], position, tile)
                assert np.allclose(got, rect, atol=1.01), (layer["name"], position, got, rect)
        readout = browser.find("#input-readout").text
        assert readout.startswith(f"{layer['name']}, channel 0,"), readout


def check_projective(browser, page, picks=3, seed=1):
    """Point at input positions: each layer with fields marks exactly the positions whose
    field holds that input sample."""
    rng = random.Random(seed)
    ndim = len(page.shape) - 1
    fields = receptive_field(page.model, page.shape)
    base = browser.find("#input-canvas")
    geometry = _geometry(base)
    for _ in range(picks):
        point = [rng.randrange(n) for n in page.shape[1:]]
        px, py, _ = _pixel(geometry, point, ndim)
        browser.point(base, px, py)
        checked = 0
        for i, layer in enumerate(page.data["layers"]):
            f = fields.get(layer["name"])
            view = layer["view"]
            if not (f and view and view["kind"] == "map" and view["axes"]):
                continue
            ranges = []
            for d, a in enumerate(view["axes"]):
                n = view["shape"][d + 1]
                first = f.start[a] - (f.size[a] - 1) / 2
                hits = [
                    j
                    for j in range(n)
                    if first + j * f.jump[a] <= point[a] + 1e-9
                    and point[a] + 1 <= first + j * f.jump[a] + f.size[a] + 1e-9
                ]
                ranges.append((min(hits), max(hits) + 1) if hits else None)
            layer_overlay = browser.find(f"#layer-{i} canvas.overlay")
            g = _geometry(layer_overlay)
            tile = (
                g["tiles"][0]
                if len(ranges) < 3
                else next(t for t in g["tiles"] if ranges[0] and t[5] == ranges[0][0])
            )
            got = _marked(browser.canvas_pixels(layer_overlay), tile)
            if any(r is None for r in ranges):
                assert got is None
                continue
            box = {"lo": [r[0] for r in ranges], "hi": [r[1] for r in ranges]}
            rect = _expected_rects({**g, "margin": [0] * len(ranges)}, box, len(ranges))
            want = rect[g["tiles"].index(tile)]
            assert got is not None and np.allclose(got, want, atol=1.01), (layer["name"], point)
            checked += 1
        assert checked


def check_select(browser, page, samples=None):
    with torch.no_grad():
        logits = page.model(page.x)
    predicted = logits.argmax(1).tolist()
    shown = []
    for i in samples or range(len(page.x)):
        browser.run("window.anyconv.select(arguments[0])", i)
        element = browser.find("#prediction")
        assert element.get_attribute("data-sample") == str(i)
        assert element.get_attribute("data-class") == str(predicted[i])
        shown.append(int(element.get_attribute("data-class")))
        wrong = "wrong" in browser.find(f"#pick-{i}").get_attribute("class")
        if page.y is not None:
            assert wrong == (predicted[i] != int(page.y[i]))
    return shown


def check_picture(browser, path):
    browser.run("window.scrollTo(0, 0)")
    pixels = np.asarray(browser.screenshot(path))
    assert pixels.std() > 20
    colours = len(np.unique(pixels.reshape(-1, 3)[::7], axis=0))
    assert colours > 200, colours
    drawn = browser.canvas_pixels(browser.find("#input-canvas"))[..., :3]
    assert len(np.unique(drawn.reshape(-1, 3), axis=0)) > 2


# -- the default profile -------------------------------------------------------------------


def test_the_page_loads_offline_without_a_console_error(opened):
    browser, page, console = opened
    check_loads(browser, page, console)
    text = browser.find("body").text
    for heading in (
        "The network, layer by layer",
        "Samples",
        "Kernels",
        "Training",
        "Convolution arithmetic",
        "Class probabilities",
    ):
        assert heading in text


def test_the_hook_layers_equal_the_summary(opened):
    browser, page, _ = opened
    check_layers(browser, page)


def test_the_hook_fields_equal_the_librarys_at_random_positions(opened):
    browser, page, _ = opened
    check_fields(browser, page)


def test_the_hook_arithmetic_equals_output_shape_on_random_specs(opened):
    browser, _, _ = opened
    check_arithmetic(browser, 400, seed=0)


def test_pointing_at_a_map_position_draws_its_field_on_the_input(opened):
    browser, page, _ = opened
    check_pointing(browser, page)
    # an earlier layer marks the positions that feed the one pointed at
    feeds = browser.canvas_pixels(browser.find("#layer-0 canvas.overlay"))
    assert (feeds[..., 3] > 40).any()


def test_pointing_at_the_input_marks_every_position_it_influences(opened):
    browser, page, _ = opened
    check_projective(browser, page, picks=2)


def test_select_shows_the_models_prediction(opened):
    browser, page, _ = opened
    shown = check_select(browser, page)
    assert len(set(shown)) > 3  # the prediction shown changes with the sample


def test_the_playground_shows_anyconvs_output_size(opened):
    browser, _, _ = opened
    for button in browser.driver.find_elements("css selector", "#playground .presets button"):
        browser.click(button)
        text = browser.find("#play-formula").text
        spec = browser.run(
            "const a = [...document.querySelectorAll('#play-controls .axis-controls')];"
            "return a.map((g) => [...g.querySelectorAll('input')].map((i) => Number(i.value)))"
        )
        assert "anyconv.output_shape →" in text, text
        assert "refuses" not in text
        n, k, s, d = spec[0][:4]
        assert (
            f"({output_shape((n,), k, stride=s, dilation=d, padding=_rule(text))[0]}"
            in (text.split("→")[1])
        )


def _rule(text):
    """The padding of axis 0 as the playground's formula line states it."""
    line = text.splitlines()[0]
    if '"' in line:
        return line.split('"')[1]
    if "(lo, hi) = (" in line:
        lo, hi = line.split("(lo, hi) = (")[1].split(")")[0].split(",")
        return ((int(lo), int(hi)),)
    return int(line.split("int ")[1].split(":")[0])


def test_the_page_is_not_blank(opened, tmp_path):
    browser, _, _ = opened
    check_picture(browser, tmp_path / "digits.png")


# -- the slow profile: other kinds of networks, more specs ------------------------------


def _other_pages(root):
    torch.manual_seed(0)
    pages = []
    c3d = create_model("c3d", in_channels=1, num_classes=4, input_size=(6, 12, 12)).eval()
    x = torch.rand(4, 1, 6, 12, 12)
    pages.append(Page(explore(c3d, x, root / "c3d.html"), c3d, x))
    fcn = create_model("fcn", in_channels=1, num_classes=3, input_size=(48,)).eval()
    x = torch.randn(5, 1, 48)
    pages.append(
        Page(
            explore(fcn, x, root / "fcn.html", labels=[0, 1, 2, 0, 1]),
            fcn,
            x,
            torch.tensor([0, 1, 2, 0, 1]),
        )
    )

    class Plain(torch.nn.Module):  # written by a user: functional calls in forward
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 6, 5, stride=2, padding=2)
            self.conv2 = torch.nn.Conv2d(6, 8, 3, dilation=2)
            self.head = torch.nn.Linear(8, 4)

        def forward(self, x):
            x = torch.nn.functional.relu(self.conv1(x))
            x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
            return self.head(x.mean((2, 3)))

    plain = Plain().eval()
    x = torch.rand(6, 3, 20, 20)
    pages.append(Page(explore(plain, x, root / "plain.html", class_names=list("wxyz")), plain, x))
    return pages


@pytest.mark.slow
def test_video_sequence_and_plain_model_pages(browser, tmp_path):
    for page in _other_pages(tmp_path):
        console = browser.open(page.path)
        check_loads(browser, page, console)
        check_layers(browser, page)
        check_fields(browser, page, per_layer=10)
        check_pointing(browser, page, picks=5)
        check_projective(browser, page, picks=2)
        check_select(browser, page)
        check_picture(browser, tmp_path / f"{page.path.stem}.png")
        assert severe(browser.console()) == []


@pytest.mark.slow
def test_lenet5_on_mnist(browser, tmp_path):
    if not MNIST.is_dir():
        pytest.skip("MNIST not found in ../shared/datasets/mnist (see the shared datasets' README)")
    from anyconv.data import load_dataset

    data = load_dataset(f"idx:{MNIST}")
    torch.manual_seed(0)
    net = create_model("lenet5", in_channels=1, num_classes=10, input_size=(28, 28)).eval()
    x, y = data.x_test[:16], data.y_test[:16]
    page = Page(explore(net, x, tmp_path / "lenet5.html", labels=y), net, x, y)
    assert page.path.stat().st_size <= 5_000_000
    console = browser.open(page.path)
    check_loads(browser, page, console)
    check_layers(browser, page)
    check_fields(browser, page, per_layer=20)
    check_pointing(browser, page, picks=6)
    check_projective(browser, page, picks=4)
    check_select(browser, page)


@pytest.mark.slow
def test_thousands_of_arithmetic_specs(browser, digits_page):
    browser.open(digits_page.path)
    for seed in range(1, 6):
        check_arithmetic(browser, 1000, seed=seed)
