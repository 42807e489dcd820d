"""Classic CNNs and a registry of them: ``create_model(name, **kw)``, ``list_models()``.

Every model takes the keyword arguments ``in_channels``, ``num_classes`` and
``input_size`` (the spatial size of one sample) plus its own, all with defaults, and
returns logits ``(N, num_classes)``.

Example:
    >>> import torch
    >>> from anyconv.models import create_model
    >>> net = create_model("lenet5", in_channels=1, num_classes=10, input_size=(28, 28))
    >>> net(torch.randn(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from anyconv.models.allcnn import AllCNN
from anyconv.models.cnn1d import CNN1d
from anyconv.models.ensemble import Ensemble
from anyconv.models.fcn import FCN
from anyconv.models.fitted import FittedModel
from anyconv.models.inception_net import InceptionTiny
from anyconv.models.inception_time import InceptionResidual, InceptionTime
from anyconv.models.lenet import LeNet5
from anyconv.models.local_nets import LocallyConnectedNet, TiledNet
from anyconv.models.minirocket import MiniRocket
from anyconv.models.mlp import MLP, mlp_width
from anyconv.models.mobilenet import MobileNetTiny
from anyconv.models.registry import (
    create_model,
    default_input_shape,
    list_models,
    register_model,
)
from anyconv.models.resnet1d import ResidualBlock1d, ResNet1d
from anyconv.models.tcn import TCN, TemporalBlock
from anyconv.models.video import C3D, Frame2D

__all__ = [
    "C3D",
    "FCN",
    "MLP",
    "TCN",
    "AllCNN",
    "CNN1d",
    "Ensemble",
    "FittedModel",
    "Frame2D",
    "InceptionResidual",
    "InceptionTime",
    "InceptionTiny",
    "LeNet5",
    "LocallyConnectedNet",
    "MiniRocket",
    "MobileNetTiny",
    "ResNet1d",
    "ResidualBlock1d",
    "TemporalBlock",
    "TiledNet",
    "create_model",
    "default_input_shape",
    "list_models",
    "mlp_width",
    "register_model",
]
