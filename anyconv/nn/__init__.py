"""``torch.nn.Module`` wrappers: each holds parameters and calls ``anyconv.functional``."""

from anyconv.nn.base import Module

__all__ = ["Module"]
