"""Stand-ins for tools of the analysis issue (issue 11) that have not landed yet.

Each follows the API that issue states, so that swapping in the real one is a change of
import: ``macs`` (``anyconv.analysis.summary`` rows gain ``"macs"``),
``shift_consistency`` (``anyconv.analysis.shift_consistency``) and ``BlurPool2d`` /
``MaxBlurPool2d`` (``anyconv.nn``). Where the real one exists already, it is used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv.nn.base import Module


def macs(model: torch.nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass of one sample ``input_shape``.

    Convolutions (also locally connected and tiled): output elements x ``C_in/groups`` x
    ``prod(kernel)``; linear layers: input x output features per row; everything else 0.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(),
        ...                           torch.nn.Linear(144, 10))
        >>> macs(net, (1, 8, 8))  # 4*6*6 outputs x 9 taps + 144*10
        2736
    """
    from anyconv.analysis import summary

    rows = summary(model, tuple(input_shape))
    if "macs" in rows[-1]:
        return int(rows[-1]["macs"])
    total = 0

    def hook(module: torch.nn.Module, inputs: Any, output: Any) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features
            return
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.dim() >= 3 and output.dim() >= 3:
            spatial = output.dim() - 2
            kernel = weight.shape[2 : 2 + spatial]
            total += output.numel() * weight.shape[1] * math.prod(kernel)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(training)
    return total


@torch.no_grad()
def shift_consistency(
    model: torch.nn.Module, x: torch.Tensor, shifts: Sequence[tuple[int, int]]
) -> list[dict[str, Any]]:
    """How the predictions of ``model`` on images ``x`` ``(N, C, H, W)`` change when the
    images move by each ``(dy, dx)`` of ``shifts`` (zero fill).

    Returns one dict per shift: ``shift``, ``consistency`` (the fraction of images whose
    predicted class stays the one of the unshifted image, Zhang 2019) and
    ``output_change`` (mean total-variation distance ``½ Σ |p_shifted − p|`` of the softmax
    outputs, in [0, 1]).

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
        >>> rows = shift_consistency(net, torch.rand(5, 1, 4, 4), [(0, 0), (1, 0)])
        >>> rows[0]["consistency"], rows[0]["output_change"]
        (1.0, 0.0)
    """
    from anyconv.experiments._common import shift
    from anyconv.train import predict

    base = predict(model, x)
    rows = []
    for dy, dx in shifts:
        p = predict(model, shift(x, dy, dx)) if (dy, dx) != (0, 0) else base
        rows.append(
            {
                "shift": (dy, dx),
                "consistency": (p.argmax(1) == base.argmax(1)).double().mean().item(),
                "output_change": 0.5 * (p - base).abs().sum(1).mean().item(),
            }
        )
    return rows


class BlurPool2d(Module):
    """Anti-aliased downsampling (Zhang 2019): a binomial low-pass filter, then stride.

    Each channel is filtered by the normalised outer product of the binomial row
    ``(1, 2, 1)`` (``kernel_size=3``) or ``(1, 3, 3, 1)`` (4) ..., with reflected borders of
    ``(k - 1) // 2`` before and ``k // 2`` after (as Zhang's code pads), keeping every
    ``stride``-th output: ``(N, C, H, W)`` -> ``(N, C, ceil(H/stride), ceil(W/stride))``
    for 3 taps.

    Example:
        >>> BlurPool2d()(torch.ones(1, 2, 7, 7))[0, 0]
        tensor([[1., 1., 1., 1.],
                [1., 1., 1., 1.],
                [1., 1., 1., 1.],
                [1., 1., 1., 1.]])
    """

    def __init__(self, kernel_size: int = 3, stride: int = 2) -> None:
        super().__init__()
        row = torch.tensor(
            [math.comb(kernel_size - 1, i) for i in range(kernel_size)], dtype=torch.float32
        )
        self.register_buffer("kernel", torch.outer(row, row) / row.sum() ** 2, persistent=False)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from anyconv.functional.conv import conv

        c = x.shape[1]
        weight = self.kernel.to(x.dtype).expand(c, 1, *self.kernel.shape)
        k = self.kernel.shape[-1]
        pad = ((k - 1) // 2, k // 2)  # as in Zhang's code: (1, 1) for 3 taps, (1, 2) for 4
        return conv(
            x, weight, stride=self.stride, padding=(pad, pad), groups=c, padding_mode="reflect"
        )


class MaxBlurPool2d(torch.nn.Sequential):
    """Max pooling evaluated densely (2x2 window, stride 1), then :class:`BlurPool2d`:
    the anti-aliased max pooling of Zhang 2019. ``(N, C, H, W)`` -> ``(N, C, ceil(H/2),
    ceil(W/2))``.

    Example:
        >>> MaxBlurPool2d()(torch.randn(1, 3, 9, 9)).shape
        torch.Size([1, 3, 5, 5])
    """

    def __init__(self, kernel_size: int = 2, blur_size: int = 3, stride: int = 2) -> None:
        from anyconv.nn import MaxPool2d

        super().__init__(
            MaxPool2d(kernel_size, stride=1, padding="same"), BlurPool2d(blur_size, stride)
        )
