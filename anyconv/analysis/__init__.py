"""Measurements and analysis of convolutions and networks: algorithm comparisons, layer
tables with MACs, receptive fields, shift equivariance and consistency, template
matching."""

from anyconv.analysis.compare import compare_algorithms
from anyconv.analysis.equivariance import (
    layer_equivariance,
    shift_consistency,
    shift_equivariance,
    translate,
)
from anyconv.analysis.receptive import ReceptiveField, receptive_field
from anyconv.analysis.summary import summary
from anyconv.analysis.template import match_template

__all__ = [
    "ReceptiveField",
    "compare_algorithms",
    "layer_equivariance",
    "match_template",
    "receptive_field",
    "shift_consistency",
    "shift_equivariance",
    "summary",
    "translate",
]
