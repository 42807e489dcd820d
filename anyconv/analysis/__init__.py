"""Measurements and analysis of convolutions: algorithm comparisons, layer tables, template
matching."""

from anyconv.analysis.compare import compare_algorithms
from anyconv.analysis.summary import summary
from anyconv.analysis.template import match_template

__all__ = ["compare_algorithms", "match_template", "summary"]
