"""``torch.nn.Module`` wrappers: each holds parameters and calls ``anyconv.functional``."""

from anyconv.nn.base import Module
from anyconv.nn.gabor import GaborConv2d
from anyconv.nn.separable import SeparableConv2d, SeparableConv3d

__all__ = ["GaborConv2d", "Module", "SeparableConv2d", "SeparableConv3d"]
