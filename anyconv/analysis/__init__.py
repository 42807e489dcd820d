"""Measurements and analysis of convolutions: algorithm comparisons, shapes, fields."""

from anyconv.analysis.compare import compare_algorithms

__all__ = ["compare_algorithms"]
