"""Measurements and analysis of convolutions: algorithm comparisons, layer tables."""

from anyconv.analysis.compare import compare_algorithms
from anyconv.analysis.summary import summary

__all__ = ["compare_algorithms", "summary"]
