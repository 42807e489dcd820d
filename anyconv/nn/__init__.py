"""``torch.nn.Module`` wrappers: each holds parameters and calls ``anyconv.functional``."""

from anyconv.nn.base import Module
from anyconv.nn.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvNd,
    DepthwiseConv,
    DepthwiseSeparableConv,
    PointwiseConv,
    convert,
    from_torch,
)
from anyconv.nn.gabor import GaborConv2d
from anyconv.nn.inception import Inception
from anyconv.nn.pool import (
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    ChannelMaxPool,
    GlobalAvgPool,
    GlobalMaxPool,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    SoftPool1d,
    SoftPool2d,
    SoftPool3d,
)
from anyconv.nn.separable import SeparableConv2d, SeparableConv3d

__all__ = [
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "ChannelMaxPool",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvNd",
    "DepthwiseConv",
    "DepthwiseSeparableConv",
    "GaborConv2d",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "Inception",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "Module",
    "PointwiseConv",
    "SeparableConv2d",
    "SeparableConv3d",
    "SoftPool1d",
    "SoftPool2d",
    "SoftPool3d",
    "convert",
    "from_torch",
]
