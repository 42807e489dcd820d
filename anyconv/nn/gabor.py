"""A convolution whose kernels are Gabor functions generated from a few parameters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from anyconv._checks import check_bool
from anyconv.functional.filters import default_gabor_envelope, gabor_kernel
from anyconv.nn.base import ConvLayer

GABOR_PARAMETERS = ("theta", "omega", "psi", "alpha", "beta", "amplitude")
_ORIENTATIONS = 8


class GaborConv2d(ConvLayer):
    """2-D convolution with kernels ``A·exp(−α x̃² − β ỹ²)·sin(ω x̃ + ψ)`` generated in forward.

    Each ``(out, in)`` kernel has its own six parameters ``theta, omega, psi, alpha, beta,
    amplitude``, each a tensor ``(out_channels, in_channels)``; the kernels are rebuilt from
    them by :func:`anyconv.functional.filters.gabor_kernel` at every call, so gradients reach
    the Gabor parameters. With ``learnable=False`` they are buffers (saved in the state dict,
    not trained, not counted by ``num_parameters``).

    Initialisation: output channel ``o`` gets orientation ``θ = π·(o mod n)/n`` with
    ``n = min(out_channels, 8)`` (evenly over ``[0, π)``) and, for each further block of
    ``n`` channels, a lower frequency: ``ω`` spread geometrically from ``π/2`` (period 4
    pixels) down to ``2π / max(kernel_size)`` (one period per kernel); ``ψ = 0``, amplitude
    ``1``, ``α = β = 1/(2σ²)`` with ``σ = min(kh, kw)/6``; the same for every input channel.
    The bias is PyTorch's ``U(−1/√fan_in, 1/√fan_in)``.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: ``k`` or ``(kh, kw)``.
        stride, padding, dilation, padding_mode, algorithm: as in :func:`anyconv.conv`.
        bias: add a learnable bias per output channel.
        learnable: train the Gabor parameters (``nn.Parameter``) or freeze them (buffers).

    Shape:
        ``(N, in_channels, H, W)`` -> ``(N, out_channels, H_out, W_out)``;
        ``weight``: ``(out_channels, in_channels, kh, kw)``.

    Example:
        >>> layer = GaborConv2d(1, 8, 7, padding="same")
        >>> layer(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 8, 28, 28])
        >>> layer.num_parameters  # 6 per kernel + bias
        56
        >>> GaborConv2d(1, 8, 7, learnable=False).num_parameters
        8
    """

    ndim = 2
    _repr_fields = ("learnable",)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: Any = "valid",
        dilation: int | Sequence[int] = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        learnable: bool = True,
        algorithm: str = "auto",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=bias,
            padding_mode=padding_mode,
            algorithm=algorithm,
        )
        self.learnable = check_bool(learnable, "learnable", type(self).__name__)
        kw = {"device": device, "dtype": dtype}
        for name in GABOR_PARAMETERS:
            value = torch.empty(out_channels, in_channels, **kw)
            if learnable:
                self.register_parameter(name, torch.nn.Parameter(value))
            else:
                self.register_buffer(name, value)
        self._create_parameters(bias, weight_axes=None, **kw)

    def _reset_weight(self, fan_in: int) -> None:
        """Orientations over ``[0, π)``, frequencies spread per block (see the class doc)."""
        out_channels, (kh, kw) = self.out_channels, self.kernel_size
        n = min(out_channels, _ORIENTATIONS)
        blocks = -(-out_channels // n)
        low = min(math.pi / 2, 2 * math.pi / max(kh, kw))
        index = torch.arange(out_channels, dtype=torch.float64)
        theta = math.pi * (index % n) / n
        step = (index // n) / max(blocks - 1, 1)
        omega = (math.pi / 2) * (low / (math.pi / 2)) ** step
        envelope = default_gabor_envelope((kh, kw))
        values = {
            "theta": theta,
            "omega": omega,
            "psi": 0.0,
            "alpha": envelope,
            "beta": envelope,
            "amplitude": 1.0,
        }
        with torch.no_grad():
            for name, value in values.items():
                target = getattr(self, name)
                if isinstance(value, torch.Tensor):
                    target.copy_(value[:, None].expand_as(target))
                else:
                    target.fill_(value)

    @property
    def weight(self) -> torch.Tensor:
        """The kernels ``(out_channels, in_channels, kh, kw)`` of the current parameters."""
        return gabor_kernel(self.kernel_size, *(getattr(self, n) for n in GABOR_PARAMETERS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` -> ``(N, out_channels, H_out, W_out)``."""
        return self._conv_forward(x, self.weight)
