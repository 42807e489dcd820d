"""The base class of every anyconv layer."""

from __future__ import annotations

import torch


class Module(torch.nn.Module):
    """A ``torch.nn.Module`` that reports its parameter count.

    Example:
        >>> import anyconv.nn
        >>> anyconv.nn.Conv2d(3, 8, 3).num_parameters
        224
    """

    @property
    def num_parameters(self) -> int:
        """Number of scalar parameters (learnable or frozen) held by the layer."""
        return sum(p.numel() for p in self.parameters())
