"""torch.compile and torch.export trace anyconv whole: every registered model and every
layer compiles with ``fullgraph=True`` (no graph break), forward and backward, with every
algorithm ``auto`` can pick, and gives the eager results (anyconv/_tracing.py, issue 23).

The default profile keeps one case per mechanism (a model on native kernels, the FFT path,
a network of anyconv's own layers, the NaN/inf fall-back, host decisions under export),
traced with the ``eager`` and ``aot_eager`` backends (Dynamo's capture and AOT autograd's
forward/backward graphs, which is where graph breaks and data-dependent guards show); the
``slow`` profile sweeps every registered model and layer, and generates code with inductor."""

from __future__ import annotations

import pytest
import torch

import anyconv
from anyconv import nn as ann
from anyconv._tracing import concrete, host
from anyconv.functional.algorithms import auto
from anyconv.models import create_model, default_input_shape, list_models

NAN = float("nan")


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def no_dropout(model: torch.nn.Module) -> torch.nn.Module:
    """Dropout off (its random masks differ between eager and compiled code), training mode
    kept (batch norm on batch statistics)."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.p = 0.0
    return model


def forward_backward(module, x):
    x = x.detach().clone().requires_grad_()
    y = module(x)
    if not y.requires_grad:  # a fitted transform without gradients (minirocket): forward only
        return y, ()
    grad = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view(y.shape)
    params = [p for p in module.parameters() if p.requires_grad]
    grads = torch.autograd.grad(y, [x, *params], grad, allow_unused=True)
    return y, grads


def assert_compiles_like_eager(module, x, backend="eager", atol=1e-5):
    torch.manual_seed(0)
    want, want_grads = forward_backward(module, x)
    compiled = torch.compile(module, fullgraph=True, backend=backend)
    torch.manual_seed(0)
    got, got_grads = forward_backward(compiled, x)
    torch.testing.assert_close(got, want, atol=atol, rtol=1e-4)
    for a, b in zip(got_grads, want_grads):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, atol=atol, rtol=1e-4)


SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "name",
    [n if n == "lenet5" else pytest.param(n, marks=SLOW) for n in list_models()],
)
def test_every_registered_model_compiles_without_a_graph_break(name):
    shape = default_input_shape(name)
    torch.manual_seed(0)
    model = no_dropout(
        create_model(name, in_channels=shape[0], num_classes=5, input_size=shape[1:])
    )
    assert_compiles_like_eager(model, torch.randn(2, *shape))


LAYERS = {
    "Conv1d": (lambda: ann.Conv1d(2, 3, 5, padding="causal", dilation=2), (2, 2, 20)),
    "Conv2d": (lambda: ann.Conv2d(2, 3, 3, stride=2, padding="same"), (2, 2, 9, 8)),
    "Conv3d": (lambda: ann.Conv3d(2, 3, 3, padding=("causal", 1, 1)), (1, 2, 5, 6, 6)),
    "Conv2d-reflect-flip": (
        lambda: ann.Conv2d(2, 3, 3, padding="same", padding_mode="reflect", flip=True),
        (2, 2, 7, 7),
    ),
    "DepthwiseConv": (lambda: ann.DepthwiseConv(3, 3, padding="same"), (2, 3, 8, 8)),
    "PointwiseConv": (lambda: ann.PointwiseConv(3, 4), (2, 3, 5, 5)),
    "DepthwiseSeparableConv": (lambda: ann.DepthwiseSeparableConv(3, 4, 3), (2, 3, 8, 8)),
    "SeparableConv2d": (lambda: ann.SeparableConv2d(2, 3, 3, 2, padding="same"), (2, 2, 8, 8)),
    "LocallyConnected1d": (lambda: ann.LocallyConnected1d(2, 3, 3, 10), (2, 2, 10)),
    "LocallyConnected2d": (lambda: ann.LocallyConnected2d(2, 3, 3, (6, 6)), (2, 2, 6, 6)),
    "TiledConv2d": (lambda: ann.TiledConv2d(2, 3, 3, 2, padding="same"), (2, 2, 8, 8)),
    "TiledConv1d-blocks": (
        lambda: ann.TiledConv1d(2, 3, 3, 2, padding="same", algorithm="im2col"),
        (2, 2, 12),
    ),
    "GaborConv2d": (lambda: ann.GaborConv2d(2, 4, 5, padding="same"), (2, 2, 9, 9)),
    "Inception": (lambda: ann.Inception(3, 2, 2, 3, 1, 2, 2), (2, 3, 8, 8)),
    "MaxPool2d": (lambda: ann.MaxPool2d(3, 2, padding=1, ceil_mode=True), (2, 2, 9, 9)),
    "AvgPool1d": (lambda: ann.AvgPool1d(3, 2, padding="same"), (2, 2, 11)),
    "LPPool2d": (lambda: ann.LPPool2d(2.0, 2), (2, 2, 8, 8)),
    "SoftPool2d": (lambda: ann.SoftPool2d(2), (2, 2, 8, 8)),
    "SoftPool3d-overlapping": (lambda: ann.SoftPool3d(3, 2), (1, 2, 6, 6, 6)),
    "BlurPool2d": (lambda: ann.BlurPool2d(2, filter_size=3, stride=2), (2, 2, 8, 8)),
    "MaxBlurPool2d": (lambda: ann.MaxBlurPool2d(2, 2), (2, 2, 8, 8)),
    "ChannelMaxPool": (lambda: ann.ChannelMaxPool(2), (2, 4, 5, 5)),
    "GlobalAvgPool": (lambda: ann.GlobalAvgPool(), (2, 3, 5, 5)),
    "GlobalMaxPool": (lambda: ann.GlobalMaxPool(), (2, 3, 5, 5)),
}


@SLOW
@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_compiles_without_a_graph_break(name):
    make, shape = LAYERS[name]
    torch.manual_seed(0)
    assert_compiles_like_eager(make(), torch.randn(shape))


def test_a_network_of_anyconvs_own_layers_compiles_without_a_graph_break():
    """Gabor, BlurPool, locally connected, tiled, SoftPool and MaxBlurPool layers in one
    network: the default profile's representative of the per-layer sweep above."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        ann.GaborConv2d(1, 4, 5, padding="same"),
        ann.BlurPool2d(4, filter_size=3, stride=2),
        ann.LocallyConnected2d(4, 4, 3, (8, 8), padding="same"),
        ann.TiledConv2d(4, 4, 3, 2, padding="same"),
        ann.SoftPool2d(2),
        ann.MaxBlurPool2d(2, 2),
    )
    assert_compiles_like_eager(net, torch.randn(2, 1, 16, 16))


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: ann.Conv2d(3, 4, 3, padding="same", algorithm="fft"), (2, 3, 10, 9)),
        pytest.param(
            lambda: ann.Conv1d(2, 2, 9, stride=2, padding="full", algorithm="fft"),
            (2, 2, 30),
            marks=SLOW,
        ),
        pytest.param(
            lambda: ann.DepthwiseConv(2, 5, padding="same", algorithm="fft"),
            (1, 2, 8, 8),
            marks=SLOW,
        ),
        pytest.param(  # the per-frequency channel GEMM
            lambda: ann.Conv2d(8, 8, 3, padding="same", algorithm="fft"), (2, 8, 6, 6), marks=SLOW
        ),
        pytest.param(  # overlap-save blocks
            lambda: ann.Conv1d(2, 3, 31, padding="same", algorithm="fft"), (1, 2, 1024), marks=SLOW
        ),
    ],
    ids=["2d", "1d-strided-full", "depthwise", "channel-gemm", "overlap-save"],
)
def test_the_fft_path_compiles_forward_and_backward(make, shape):
    torch.manual_seed(0)
    assert_compiles_like_eager(make(), torch.randn(shape), backend="aot_eager", atol=1e-4)


@SLOW
def test_auto_picks_the_fft_path_under_compile_too():
    """A k=31 layer on 64x64: ``auto`` runs the FFT path, eager and compiled alike."""
    layer = ann.Conv2d(4, 4, 31, padding="same")
    x = torch.randn(2, 4, 64, 64)
    assert auto.choose(x.requires_grad_(), layer.weight, layer.spec(x.shape[2:])) == "fft"
    assert_compiles_like_eager(layer, x, backend="aot_eager", atol=1e-4)


def test_non_finite_inputs_on_the_compiled_fft_path_give_the_direct_sums_pattern():
    """The FFT path's fall-back for NaN/inf operands is a ``torch.cond`` in the graph: one
    compiled function serves finite and non-finite inputs, without a recompile."""
    w = torch.randn(3, 2, 5, 5)
    f = torch.compile(
        lambda x: anyconv.conv(x, w, padding="same", algorithm="fft"),
        fullgraph=True,
        backend="aot_eager",
    )
    x = torch.randn(2, 2, 12, 12)
    torch.testing.assert_close(f(x), anyconv.conv(x, w, padding="same"), atol=1e-4, rtol=1e-4)
    x[0, 1, 4, 6], x[1, 0, 0, 0] = NAN, float("inf")
    got, want = f(x), anyconv.conv(x, w, padding="same", algorithm="direct")
    for kind in (torch.isnan, torch.isposinf, torch.isneginf):
        assert torch.equal(kind(got), kind(want))
    finite = torch.isfinite(want)
    torch.testing.assert_close(got[finite], want[finite], atol=1e-4, rtol=1e-4)
    assert torch.isnan(got).sum() == 3 * 25  # one window's worth per output channel


@pytest.mark.parametrize(
    "algorithm",
    ["im2col", *(pytest.param(a, marks=SLOW) for a in ("fft", "auto", "native", "direct"))],
)
def test_the_transposed_convolution_compiles_forward_and_backward(algorithm):
    """``ConvTranspose2d`` (stride 2, Keras's ``same``): every algorithm ``auto`` can pick
    for a transposed problem traces whole (their Functions' jvp-less twins)."""
    torch.manual_seed(0)
    layer = ann.ConvTranspose2d(3, 4, 3, stride=2, padding="same", algorithm=algorithm)
    assert_compiles_like_eager(layer, torch.randn(2, 3, 6, 7), backend="aot_eager", atol=1e-4)


@SLOW
def test_non_finite_inputs_on_the_compiled_transposed_fft_path_give_the_scatters_pattern():
    w = torch.randn(2, 3, 3, 3)
    f = torch.compile(
        lambda y: anyconv.conv_transpose(y, w, stride=2, algorithm="fft"),
        fullgraph=True,
        backend="aot_eager",
    )
    y = torch.randn(2, 2, 5, 5)
    torch.testing.assert_close(f(y), anyconv.conv_transpose(y, w, stride=2), atol=1e-4, rtol=1e-4)
    y[0, 1, 2, 2], y[1, 0, 0, 0] = NAN, float("inf")
    got, want = f(y), anyconv.conv_transpose(y, w, stride=2, algorithm="direct")
    for kind in (torch.isnan, torch.isposinf, torch.isneginf):
        assert torch.equal(kind(got), kind(want))
    finite = torch.isfinite(want)
    torch.testing.assert_close(got[finite], want[finite], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "algorithm", ["auto", pytest.param("native", marks=SLOW), pytest.param("fft", marks=SLOW)]
)
def test_the_functional_conv_compiles_with_fullgraph(algorithm):
    """The hostile-inputs report's case: ``torch.compile(anyconv.conv, fullgraph=True)``
    failed with "Attempted to call function marked as skipped"."""
    x, w = torch.randn(2, 3, 16, 16), torch.randn(4, 3, 5, 5)
    compiled = torch.compile(anyconv.conv, fullgraph=True, backend="eager")
    got = compiled(x, w, padding="same", algorithm=algorithm)
    torch.testing.assert_close(got, anyconv.conv(x, w, padding="same"), atol=1e-4, rtol=1e-4)


@SLOW
def test_a_second_batch_size_recompiles_without_a_graph_break():
    """A last, smaller batch: Dynamo marks the batch axis dynamic, and the decisions made
    from shapes specialise on it instead of breaking the graph."""
    model = no_dropout(create_model("lenet5"))
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    for n in (4, 3, 2):
        x = torch.randn(n, 1, 28, 28)
        torch.testing.assert_close(compiled(x), model(x))


def test_errors_under_compile_are_anyconvs_own():
    layer = ann.Conv2d(3, 4, 3)
    with pytest.raises(Exception, match=r"expects weight.shape\[1\] \* groups .* 2 channels"):
        torch.compile(layer, fullgraph=True, backend="eager")(torch.randn(1, 2, 8, 8))


def test_host_functions_see_example_sizes_under_a_dynamic_export():
    """Non-strict ``torch.export`` with a dynamic batch: a host decision gets the example's
    batch size (no guard, the program stays dynamic), and the program runs any batch."""
    seen = []

    @host
    def note(sizes):
        seen.append(sizes)
        return 2

    class Net(torch.nn.Module):
        def forward(self, x):
            seen.append(concrete(x.shape))
            return anyconv.conv(x, torch.ones(4, 2, 5), padding="same") * note(x.shape)

    batch = torch.export.Dim("batch")
    program = torch.export.export(
        Net(), (torch.randn(3, 2, 20),), dynamic_shapes={"x": {0: batch}}, strict=False
    )
    assert seen == [(3, 2, 20), (3, 2, 20)]
    x = torch.randn(5, 2, 20)
    torch.testing.assert_close(program.module()(x), Net()(x))


@SLOW
@pytest.mark.parametrize(
    "name",
    list_models(),
)
def test_every_registered_model_compiles_with_inductor(name):
    shape = default_input_shape(name)
    torch.manual_seed(0)
    model = no_dropout(
        create_model(name, in_channels=shape[0], num_classes=5, input_size=shape[1:])
    )
    assert_compiles_like_eager(model, torch.randn(2, *shape), backend="inductor", atol=1e-4)


@SLOW
def test_the_fft_path_compiles_with_inductor():
    layer = ann.Conv2d(4, 4, 31, padding="same")
    assert_compiles_like_eager(layer, torch.randn(2, 4, 64, 64), backend="inductor", atol=1e-4)
