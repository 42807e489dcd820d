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
    model: torch.nn.Module,
    x: torch.Tensor,
    shifts: Sequence[Sequence[int]],
    *,
    mode: str = "zeros",
) -> dict[str, Any]:
    """How often the predicted class of ``model`` on images ``x`` ``(N, C, H, W)`` stays the
    same when the images move by each ``(dy, dx)`` of ``shifts``.

    ``mode="zeros"`` moves the content and fills with zeros (the only mode of this
    stand-in). Returns ``consistency`` (the fraction of images whose class is the one of the
    unshifted image, Zhang 2019) and ``softmax_change`` (the mean total-variation distance
    ``½ Σ |p_shifted − p|``, in [0, 1]), each averaged over the nonzero shifts, and
    ``per_shift``: one dict per shift with ``shift``, ``consistency``, ``softmax_change``.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
        >>> out = shift_consistency(net, torch.rand(5, 1, 4, 4), [(0, 0), (1, 0)])
        >>> out["per_shift"][0]["consistency"], out["per_shift"][0]["softmax_change"]
        (1.0, 0.0)
    """
    from anyconv.experiments._common import shift
    from anyconv.train import predict

    if mode != "zeros":
        raise ValueError(f"shift_consistency(): argument 'mode' must be 'zeros'; got {mode!r}")
    base = predict(model, x)
    rows = []
    for dy, dx in shifts:
        p = predict(model, shift(x, dy, dx)) if (dy, dx) != (0, 0) else base
        rows.append(
            {
                "shift": (dy, dx),
                "consistency": (p.argmax(1) == base.argmax(1)).double().mean().item(),
                "softmax_change": 0.5 * (p - base).abs().sum(1).mean().item(),
            }
        )
    moved = [r for r in rows if r["shift"] != (0, 0)] or rows
    return {
        "consistency": sum(r["consistency"] for r in moved) / len(moved),
        "softmax_change": sum(r["softmax_change"] for r in moved) / len(moved),
        "per_shift": rows,
    }


class BlurPool2d(Module):
    """Anti-aliased downsampling (Zhang 2019): a binomial low-pass filter, then stride.

    Each channel is filtered by the normalised outer product of the binomial row
    ``(1, 2, 1)`` (``filter_size=3``), ``(1, 3, 3, 1)`` (4) ..., padded by ``padding`` (any
    rule of :mod:`anyconv.padding`, default ``"same"``) with ``padding_mode`` borders
    (default ``"reflect"``), keeping every ``stride``-th output: ``(N, C, H, W)`` ->
    ``(N, C, ceil(H/stride), ceil(W/stride))`` with ``"same"``.

    Example:
        >>> BlurPool2d()(torch.ones(1, 2, 7, 7))[0, 0]
        tensor([[1., 1., 1., 1.],
                [1., 1., 1., 1.],
                [1., 1., 1., 1.],
                [1., 1., 1., 1.]])
    """

    def __init__(
        self,
        filter_size: int = 3,
        stride: int = 2,
        padding: Any = "same",
        padding_mode: str = "reflect",
    ) -> None:
        super().__init__()
        row = torch.tensor([math.comb(filter_size - 1, i) for i in range(filter_size)])
        kernel = torch.outer(row, row).float() / row.sum().item() ** 2
        self.register_buffer("kernel", kernel, persistent=False)
        self.stride, self.padding, self.padding_mode = stride, padding, padding_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from anyconv.functional.conv import conv

        c = x.shape[1]
        weight = self.kernel.to(x.dtype).expand(c, 1, *self.kernel.shape)
        return conv(
            x,
            weight,
            stride=self.stride,
            padding=self.padding,
            groups=c,
            padding_mode=self.padding_mode,
        )


class MaxBlurPool2d(torch.nn.Sequential):
    """Anti-aliased max pooling (Zhang 2019): max over ``kernel_size`` windows with stride 1
    (``padding``, default none), then :class:`BlurPool2d` by ``stride``; ``(N, C, H, W)`` ->
    ``(N, C, ceil((H - k + 1) / stride), ...)``, a drop-in for ``MaxPool2d(k, stride)``.

    Example:
        >>> MaxBlurPool2d(2)(torch.randn(1, 3, 28, 28)).shape
        torch.Size([1, 3, 14, 14])
    """

    def __init__(
        self, kernel_size: int = 2, stride: int = 2, padding: Any = 0, *, filter_size: int = 3
    ) -> None:
        from anyconv.nn import MaxPool2d

        super().__init__(
            MaxPool2d(kernel_size, stride=1, padding=padding), BlurPool2d(filter_size, stride)
        )
