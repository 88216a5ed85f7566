"""Learned processors P_θ acting on batched DOF tensors."""
from .mlp import MLPProcessor

__all__ = ["MLPProcessor"]
