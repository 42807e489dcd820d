"""Pictures of convolutions, training runs and networks (matplotlib, rendered with Agg, no
pyplot).

Example:
    >>> import tempfile, os, torch
    >>> from anyconv.viz import plot_filters
    >>> with tempfile.TemporaryDirectory() as d:
    ...     os.path.getsize(plot_filters(torch.randn(4, 1, 3), f"{d}/f.png")) > 0
    True
"""

from anyconv.viz.animate import ConvAnimation, ConvFrame, animate_conv, conv_windows
from anyconv.viz.cam import class_activation_maps, plot_cam
from anyconv.viz.curves import plot_confusion, plot_history
from anyconv.viz.equivariance import plot_equivariance
from anyconv.viz.explorer import explore
from anyconv.viz.fields import plot_receptive_field
from anyconv.viz.filters import first_conv_weight, plot_filters
from anyconv.viz.maps import FeatureMap, activations, conv_layers, feature_maps, plot_feature_maps
from anyconv.viz.matrix import plot_conv_matrix
from anyconv.viz.network import (
    NETWORK_PICTURES,
    draw_pictures,
    network_jobs,
    write_network_pictures,
)
from anyconv.viz.samples import plot_samples

__all__ = [
    "NETWORK_PICTURES",
    "ConvAnimation",
    "ConvFrame",
    "FeatureMap",
    "activations",
    "animate_conv",
    "class_activation_maps",
    "conv_layers",
    "conv_windows",
    "draw_pictures",
    "explore",
    "feature_maps",
    "first_conv_weight",
    "network_jobs",
    "plot_cam",
    "plot_confusion",
    "plot_conv_matrix",
    "plot_equivariance",
    "plot_feature_maps",
    "plot_filters",
    "plot_history",
    "plot_receptive_field",
    "plot_samples",
    "write_network_pictures",
]
