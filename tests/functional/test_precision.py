"""anyconv's operators under ``torch.autocast`` behave as PyTorch's convolutions: float32
operands are cast to the autocast dtype, float64 ones are not, and a network of anyconv
layers trains under autocast (the trainer's ``--amp``)."""

from __future__ import annotations

import pytest
import torch

import anyconv
from anyconv.models import FittedModel, create_model, default_input_shape, list_models

BF16 = torch.bfloat16


@pytest.mark.parametrize("algorithm", anyconv.list_algorithms())
def test_conv_under_autocast_runs_in_the_autocast_dtype(algorithm):
    torch.manual_seed(0)
    x, w, b = torch.randn(2, 3, 9, 9).to(BF16), torch.randn(4, 3, 3, 3), torch.randn(4)
    with torch.autocast("cpu", dtype=BF16):
        y = anyconv.conv(x, w, b, padding="same", algorithm=algorithm)
        native = torch.nn.functional.conv2d(x, w, b, padding="same")
    assert y.dtype == native.dtype == BF16
    expected = anyconv.conv(x, w.to(BF16), b.to(BF16), padding="same", algorithm=algorithm)
    # the same up to bfloat16 rounding (the matrix's sparse product runs under autocast too)
    torch.testing.assert_close(y.float(), expected.float(), rtol=0.02, atol=0.05)


def test_float64_and_other_operators_under_autocast():
    x, w = torch.randn(1, 2, 6, 6, dtype=torch.float64), torch.randn(3, 2, 3, 3)
    with torch.autocast("cpu", dtype=BF16):
        y = anyconv.conv(x, w.double())
        assert y.dtype == torch.float64  # autocast leaves float64 alone, as PyTorch does
        with pytest.raises(TypeError, match="'weight' must be of the input's dtype"):
            anyconv.conv(x, w)  # float64 input, float32 weight: still refused
        xb = torch.randn(1, 2, 6, 6).to(BF16)
        local = anyconv.locally_connected(xb, torch.randn(3, 2, 3, 3, 4, 4))
        tiled = anyconv.tiled_conv(xb, torch.randn(3, 2, 3, 3, 2, 2), tiles=2)
    assert local.dtype == tiled.dtype == BF16


@pytest.mark.parametrize("name", sorted(list_models()))
def test_every_model_trains_a_step_under_autocast(name):
    torch.manual_seed(0)
    shape = default_input_shape(name)
    shape = (shape[0], *(min(n, 16) for n in shape[1:]))
    net = create_model(name, in_channels=shape[0], num_classes=3, input_size=shape[1:])
    x = torch.randn(2, *shape)
    with torch.autocast("cpu", dtype=BF16):
        logits = net(x)
    if isinstance(net, FittedModel):
        # fitted without gradients: its transform stays float32 under autocast (MiniRocket's
        # features count outputs above float32 biases); only the linear layer runs in bf16
        net.fit(x, torch.tensor([0, 2]), generator=torch.Generator().manual_seed(0))
        with torch.autocast("cpu", dtype=BF16):
            logits = net(x)
        torch.testing.assert_close(logits.float(), net(x), rtol=0.02, atol=0.05)
        return
    loss = torch.nn.functional.cross_entropy(logits.float(), torch.tensor([0, 2]))
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and g.dtype == torch.float32 for g in grads)
