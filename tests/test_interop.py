"""anyconv.export (ONNX through onnxruntime, torch.export programs) and anyconv.compile
(anyconv/interop.py, issue 23). Every registered model exports; each export takes seconds,
so the default profile keeps one ONNX round trip (LeNet-5 with a run's normalisation and
class names) and one pt2 program, and the slow profile exports every model, a size where
``auto`` picks the FFT path and a network of anyconv's own layers."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

import anyconv
from anyconv import nn as ann
from anyconv.interop import Deployable
from anyconv.models import create_model, default_input_shape, list_models

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason="the extra 'export' is not installed")
SLOW = pytest.mark.slow


def model_and_input(name, shape=None, batch=2):
    shape = shape or default_input_shape(name)
    torch.manual_seed(0)
    model = create_model(name, in_channels=shape[0], num_classes=4, input_size=shape[1:])
    return model.eval(), torch.randn(batch, *shape)


def onnx_logits(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


def check_onnx_round_trip(model, x, path, **kw):
    anyconv.export(model, x, path, "onnx", **kw)
    other = torch.randn(5, *x.shape[1:])  # another batch size: the batch axis is dynamic
    with torch.no_grad():
        want = Deployable(model, kw.get("normalization")).eval()(other)
    torch.testing.assert_close(onnx_logits(path, other), want, atol=1e-4, rtol=1e-4)


@SLOW
@needs_onnx
@pytest.mark.parametrize(
    "name",
    list_models(),
)
def test_every_registered_model_exports_to_onnx(name, tmp_path):
    model, x = model_and_input(name)
    check_onnx_round_trip(model, x, tmp_path / f"{name}.onnx")


@SLOW
@needs_onnx
def test_sizes_where_auto_picks_the_fft_path_export_to_onnx(tmp_path):
    """c3d on 8x32x32 clips runs some layers on the FFT path; ONNX gets its Conv."""
    model, x = model_and_input("c3d", (1, 8, 32, 32))
    check_onnx_round_trip(model, x, tmp_path / "c3d.onnx")


LAYERS = torch.nn.Sequential(
    ann.GaborConv2d(1, 4, 5, padding="same"),
    ann.BlurPool2d(4, filter_size=3, stride=2),
    ann.LocallyConnected2d(4, 4, 3, (8, 8), padding="same"),
    ann.TiledConv2d(4, 4, 3, 2, padding="same"),
    ann.SoftPool2d(2),
    ann.MaxBlurPool2d(2, 2),
    torch.nn.Flatten(),
)


@SLOW
@needs_onnx
def test_anyconv_only_layers_export_to_onnx(tmp_path):
    """Locally connected, tiled, SoftPool, BlurPool and Gabor layers in one network."""
    torch.manual_seed(0)
    check_onnx_round_trip(LAYERS.eval(), torch.randn(2, 1, 16, 16), tmp_path / "layers.onnx")


@needs_onnx
def test_the_onnx_file_normalises_raw_inputs_and_names_its_classes(tmp_path):
    import onnx

    model, x = model_and_input("lenet5", (1, 8, 8))
    normalization = {"divide": 16.0, "mean": [0.25], "std": [0.5]}
    path = tmp_path / "digits.onnx"
    check_onnx_round_trip(
        model, x * 16, path, normalization=normalization, class_names=list("abcd")
    )
    meta = {p.key: json.loads(p.value) for p in onnx.load(path).metadata_props}
    assert meta["class_names"] == list("abcd") and meta["input_shape"] == [1, 8, 8]
    assert meta["normalization"] == normalization
    raw = torch.rand(3, 1, 8, 8) * 16
    with torch.no_grad():
        want = model((raw / 16 - 0.25) / 0.5)
    torch.testing.assert_close(onnx_logits(path, raw), want, atol=1e-4, rtol=1e-4)


def test_per_sample_znorm_matches_the_loader():
    from anyconv.data.ucr import znormalise

    x = torch.randn(3, 2, 30) * 5 + 2
    x[1, 0] = 7.0  # a constant series: zeros
    want = torch.from_numpy(znormalise(x.double().numpy()).astype("float32"))
    got = Deployable(torch.nn.Identity(), {"per_sample": "znorm"}).normalize(x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["lenet5", pytest.param("c3d", marks=SLOW)])
def test_pt2_programs_keep_the_algorithms_and_load_back(name, tmp_path):
    shape = (1, 8, 32, 32) if name == "c3d" else None
    model, x = model_and_input(name, shape)
    path = anyconv.export(model, x, tmp_path / f"{name}.pt2", "pt2", class_names=list("abcd"))
    program = torch.export.load(path)
    other = torch.randn(3, *x.shape[1:])
    with torch.no_grad():
        torch.testing.assert_close(program.module()(other), model(other), atol=1e-4, rtol=1e-4)
    extra = {"anyconv.json": ""}
    torch.export.load(path, extra_files=extra)
    assert json.loads(extra["anyconv.json"])["class_names"] == list("abcd")


def test_without_the_extra_the_error_names_it(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "onnxruntime" else real(n, *a)
    )
    model, x = model_and_input("lenet5", (1, 8, 8))
    with pytest.raises(ImportError, match=r"pip install 'anyconv\[export\]'"):
        anyconv.export(model, x, tmp_path / "m.onnx")


def test_an_unknown_format_is_refused(tmp_path):
    model, x = model_and_input("lenet5", (1, 8, 8))
    with pytest.raises(ValueError, match=r"export\(\): argument 'format'.*'onnx', 'pt2'"):
        anyconv.export(model, x, tmp_path / "m.tflite", "tflite")


def test_anyconv_compile_is_torch_compile_with_the_default_partitioner(monkeypatch):
    from anyconv.interop import _KeepBackwardInputs

    model, x = model_and_input("lenet5", (1, 8, 8))
    compiled = anyconv.compile(model, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x))
    decorated = anyconv.compile(fullgraph=True, backend="eager")(model)
    torch.testing.assert_close(decorated(x), model(x))

    calls = []
    monkeypatch.setattr(torch, "compile", lambda m, **kw: calls.append(kw) or m)
    anyconv.compile(model)  # inductor: the partitioner goes in
    anyconv.compile(model, options={"max_autotune": True})  # merged with the caller's
    anyconv.compile(model, mode="max-autotune")  # a mode of the caller's own: left alone
    anyconv.compile(model, backend="aot_eager")
    assert isinstance(calls[0]["options"]["custom_partitioner_fn"], _KeepBackwardInputs)
    assert calls[1]["options"]["max_autotune"] is True
    assert isinstance(calls[1]["options"]["custom_partitioner_fn"], _KeepBackwardInputs)
    assert "options" not in calls[2] and "options" not in calls[3]


@SLOW
def test_anyconv_compile_trains_like_eager_with_inductor():
    model, x = model_and_input("lenet5")
    model.train()
    compiled = anyconv.compile(model)
    for module in (model, compiled):
        module.zero_grad()
        module(x).square().sum().backward()
        grads = [p.grad.clone() for p in model.parameters()]
        if module is model:
            want = grads
    for a, b in zip(grads, want):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
