"""Models: shapes and gradients on their natural inputs, the registry, parameter counts,
causality in time, argument errors and one quick learning check."""

from __future__ import annotations

import time

import pytest
import torch

from anyconv.models import (
    C3D,
    TCN,
    AllCNN,
    CNN1d,
    FittedModel,
    Frame2D,
    InceptionTiny,
    LeNet5,
    LocallyConnectedNet,
    MobileNetTiny,
    TiledNet,
    create_model,
    default_input_shape,
    list_models,
)

DIGITS, MNIST, CIFAR = (1, 8, 8), (1, 28, 28), (3, 32, 32)
SEQUENCE, VIDEO = (1, 40), (1, 8, 16, 16)
IMAGES = [DIGITS, MNIST]
# Inputs beyond each model's registered natural input (``default_input_shape``) that it
# must also take; every registered model is tested on its own input whether listed or not.
MORE_INPUTS = {
    "lenet5": [*IMAGES, CIFAR, (1, 32, 32)],
    "allcnn": [*IMAGES, CIFAR],
    "tcn": [SEQUENCE],
    "cnn1d": [SEQUENCE],
    "c3d": [VIDEO, (1, 10, 20, 20)],
    "frame2d": [VIDEO],
    "mobilenet_tiny": IMAGES,
    "inception_tiny": IMAGES,
    "locally_connected_net": IMAGES,
    "tiled_net": IMAGES,
    "mlp": [*IMAGES, SEQUENCE, VIDEO],
    "fcn": [SEQUENCE, (3, 25)],  # any length, several channels
    "resnet1d": [SEQUENCE, (3, 25)],
    "inception_time": [SEQUENCE, (3, 25)],
    "minirocket": [SEQUENCE, (3, 25), (2, 5)],  # several channels; shorter than a kernel
}
CASES = [
    (name, shape)
    for name in list_models()
    for shape in dict.fromkeys([default_input_shape(name), *MORE_INPUTS.get(name, [])])
]


def build(name: str, shape: tuple[int, ...], num_classes: int = 7, **kw) -> torch.nn.Module:
    return create_model(
        name, in_channels=shape[0], num_classes=num_classes, input_size=shape[1:], **kw
    )


def test_registry_lists_every_model_with_help():
    assert set(MORE_INPUTS) <= set(list_models()), "MORE_INPUTS names an unregistered model"
    assert all(isinstance(h, str) and h for h in list_models().values())
    assert {name for name, _ in CASES} == set(list_models())


def test_unknown_model_name_is_an_error_listing_the_names():
    with pytest.raises(ValueError, match=r"create_model\(\): argument 'name'.*'lenet5'.*'lenet7'"):
        create_model("lenet7")


@pytest.mark.parametrize(
    ("name", "shape"), CASES, ids=[f"{n}-{'x'.join(map(str, s))}" for n, s in CASES]
)
def test_forward_shape_and_all_parameters_get_gradients(name, shape):
    torch.manual_seed(0)
    model = build(name, shape)
    x = torch.randn(3, *shape)
    logits = model(x)
    assert logits.shape == (3, 7)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    if isinstance(model, FittedModel):  # fitted in one pass: nothing for gradients to train
        assert not any(p.requires_grad for p in model.parameters())
        y = torch.arange(len(x)) % 7
        fitted, facts = model.fit(x, y, generator=torch.Generator().manual_seed(0))
        assert fitted.shape == (3, 7) and isinstance(facts, dict)
        assert torch.allclose(model(x), fitted, atol=1e-5)
    else:
        logits.logsumexp(1).sum().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, f"{name}: no gradient for {missing}"
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    # a docstring states the expected input shape and a runnable example
    doc = type(model).__doc__
    assert "(N, in_channels" in doc and "num_classes)" in doc and "Example:" in doc


def test_lenet5_parameter_count_is_the_classic_figure():
    expected = (
        6 * (25 + 1) + 16 * (6 * 25 + 1) + 16 * 5 * 5 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10
    )
    assert expected == 61706
    for size in ((32, 32), (28, 28)):  # 28x28 is padded by 2 to the same 32x32 geometry
        assert LeNet5(in_channels=1, num_classes=10, input_size=size).num_parameters == expected
    # more input channels only widen conv1
    assert LeNet5(in_channels=3, input_size=(32, 32)).num_parameters == expected + 2 * 6 * 25


@pytest.mark.parametrize("pool", ["max", "avg", "soft"])
def test_lenet5_pool_and_activation_choices(pool):
    net = LeNet5(input_size=(28, 28), pool=pool, activation="tanh")
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_lenet5_upsamples_small_inputs_and_honours_an_explicit_padding():
    assert LeNet5(input_size=(8, 8)).upsample == 3  # 8x8 digits -> 24x24
    assert LeNet5(input_size=(28, 28)).upsample == 1
    net = LeNet5(input_size=(12, 12), padding="same")
    assert net.upsample == 1 and net(torch.randn(1, 1, 12, 12)).shape == (1, 10)
    with pytest.raises(ValueError, match="kernel is larger than the padded input"):
        LeNet5(input_size=(8, 8), padding="valid")


def test_cnn1d_matches_the_mnist1d_reference_sizes():
    net = CNN1d(in_channels=1, num_classes=10, input_size=(40,), channels=25)
    assert net.classifier[1].in_features == 125  # 25 channels x 5 steps, as in the paper
    assert [m.out_channels for m in net.features if hasattr(m, "out_channels")] == [25] * 3
    assert net.num_parameters == (25 * 5 + 25) + 2 * (25 * 25 * 3 + 25) + 125 * 10 + 10


def _future_independent(features, x: torch.Tensor, t: int) -> None:
    """Features at steps <= t ignore inputs after t (gradient and perturbation) but do use
    the steps before; time is axis 2."""
    x = x.clone().requires_grad_(True)
    features(x).narrow(2, t, 1).sum().backward()
    grad = x.grad.narrow(2, t + 1, x.shape[2] - t - 1)
    assert torch.equal(grad, torch.zeros_like(grad))
    assert x.grad.narrow(2, 0, t + 1).abs().sum() > 0
    changed = x.detach().clone()
    changed.narrow(2, t + 1, x.shape[2] - t - 1).normal_()
    with torch.no_grad():
        before, after = features(x.detach()), features(changed)
    torch.testing.assert_close(
        before.narrow(2, 0, t + 1), after.narrow(2, 0, t + 1), rtol=0, atol=0
    )


def test_tcn_is_causal_and_classifies_from_the_last_step():
    torch.manual_seed(0)
    net = TCN(in_channels=1, num_classes=10, input_size=(40,)).eval()
    assert net.receptive_field >= 40
    x = torch.randn(2, 1, 40)
    for t in (0, 17, 38):
        _future_independent(net.features, x, t)
    with torch.no_grad():  # the logits of a prefix are the features of its last step
        torch.testing.assert_close(net(x[..., :18]), net.classifier(net.features(x)[..., 17]))


def test_tcn_options():
    net = TCN(input_size=(40,), weight_norm=True, readout="mean", levels=2, channels=8)
    assert len(net.blocks) == 2 and net.receptive_field == 1 + 2 * 4 * 3
    out = net(torch.randn(2, 1, 33))  # any length
    out.sum().backward()
    assert out.shape == (2, 10)


def test_c3d_causal_time_is_causal_and_same_padding_is_not():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 8, 16, 16)
    causal = C3D(input_size=(8, 16, 16), causal_time=True).eval()
    for t in (0, 3, 6):
        _future_independent(causal.features, x, t)
    same = C3D(input_size=(8, 16, 16)).eval()
    x = x.clone().requires_grad_(True)
    same.features(x)[:, :, 3].sum().backward()
    assert x.grad[:, :, 4:].abs().sum() > 0  # "same" in time looks ahead


def test_frame2d_ignores_the_order_of_frames():
    torch.manual_seed(0)
    net = Frame2D(input_size=(8, 16, 16)).eval()
    x = torch.randn(2, 1, 8, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x.flip(2)))
    assert net.features(x).shape == (2, 32, 8, 4, 4)


def test_locally_connected_net_only_takes_its_own_input_size():
    net = LocallyConnectedNet(input_size=(8, 8))
    with pytest.raises(ValueError, match="input_size"):
        net(torch.randn(1, 1, 10, 10))


@pytest.mark.parametrize(
    ("make", "error", "arg"),
    [
        (lambda: LeNet5(in_channels=0), ValueError, "in_channels"),
        (lambda: LeNet5(num_classes=2.0), TypeError, "num_classes"),
        (lambda: LeNet5(pool="median"), ValueError, "pool"),
        (lambda: LeNet5(activation="gelu"), ValueError, "activation"),
        (lambda: LeNet5(input_size=(28,)), ValueError, "input_size"),
        (lambda: AllCNN(width=0), ValueError, "width"),
        (lambda: AllCNN(dropout=1.0), ValueError, "dropout"),
        (lambda: TCN(readout="first"), ValueError, "readout"),
        (lambda: TCN(weight_norm=1), TypeError, "weight_norm"),
        (lambda: CNN1d(kernel_sizes=()), ValueError, "kernel_sizes"),
        (lambda: CNN1d(kernel_sizes=(3, 2.0)), TypeError, "kernel_sizes"),
        (lambda: C3D(causal_time="yes"), TypeError, "causal_time"),
        (lambda: C3D(channels=(8, 0)), ValueError, "channels"),
        (lambda: C3D(channels=8), TypeError, "channels"),
        (lambda: MobileNetTiny(width=-1), ValueError, "width"),
        (lambda: InceptionTiny(width=6), ValueError, "width"),
        (lambda: LocallyConnectedNet(local_channels=0), ValueError, "local_channels"),
        (lambda: TiledNet(tiles=0), ValueError, "tiles"),
    ],
)
def test_constructor_errors_name_the_argument(make, error, arg):
    with pytest.raises(error, match=rf"argument '{arg}' must be"):
        make()


def test_lenet5_learns_the_digits():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = torch.tensor(bunch.images / 16.0, dtype=torch.float32)[:, None]
    y = torch.tensor(bunch.target)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    torch.manual_seed(0)
    net = LeNet5(in_channels=1, num_classes=10, input_size=(8, 8))
    epochs, batch = 8, 64
    steps = epochs * -(-len(x_train) // batch)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=steps)
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in torch.randperm(len(x_train)).split(batch):
            loss = torch.nn.functional.cross_entropy(net(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    net.eval()
    with torch.no_grad():
        accuracy = (net(x_test).argmax(1) == y_test).float().mean().item()
    assert accuracy >= 0.95, (accuracy, time.perf_counter() - start)
