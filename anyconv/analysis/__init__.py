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
from anyconv.analysis.receptive import (
    FieldMap,
    ReceptiveField,
    field_maps,
    receptive_field,
    receptive_field_stages,
)
from anyconv.analysis.summary import Summary, summary
from anyconv.analysis.template import match_template

__all__ = [
    "FieldMap",
    "ReceptiveField",
    "Summary",
    "compare_algorithms",
    "field_maps",
    "layer_equivariance",
    "match_template",
    "receptive_field",
    "receptive_field_stages",
    "shift_consistency",
    "shift_equivariance",
    "summary",
    "translate",
]
