"""Pictures of training runs and networks (matplotlib, rendered with Agg, no pyplot).

Example:
    >>> import tempfile, os, torch
    >>> from anyconv.viz import plot_filters
    >>> with tempfile.TemporaryDirectory() as d:
    ...     os.path.getsize(plot_filters(torch.randn(4, 1, 3), f"{d}/f.png")) > 0
    True
"""

from anyconv.viz.cam import class_activation_maps, plot_cam
from anyconv.viz.curves import plot_confusion, plot_history
from anyconv.viz.maps import (
    activations,
    conv_layers,
    first_conv_weight,
    plot_feature_maps,
    plot_filters,
)

__all__ = [
    "activations",
    "class_activation_maps",
    "conv_layers",
    "first_conv_weight",
    "plot_cam",
    "plot_confusion",
    "plot_feature_maps",
    "plot_filters",
    "plot_history",
]
