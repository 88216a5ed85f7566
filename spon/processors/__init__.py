"""Learned processors P_θ acting on batched DOF tensors."""
from .graph import DOFGraph, GraphProcessor, MessagePassing
from .mlp import MLPProcessor
from .multigrid import MultigridProcessor, Transfer
from .shared_nodes import SharedNodeProcessor

__all__ = ["MLPProcessor", "DOFGraph", "MessagePassing", "GraphProcessor", "MultigridProcessor", "Transfer",
           "SharedNodeProcessor"]
