"""Stateless tensor functions, like ``torch.nn.functional``."""

from anyconv.functional.algorithms import ALGORITHMS, list_algorithms
from anyconv.functional.conv import conv, conv_matrix

__all__ = ["ALGORITHMS", "conv", "conv_matrix", "list_algorithms"]
