"""Operator models assembled from encoders, processors and decoders."""
from .spon import SPON

__all__ = ["SPON"]
