"""Learned processors P_θ acting on batched DOF tensors."""
from .graph import DOFGraph, GraphProcessor, MessagePassing
from .least_squares import LeastSquaresProcessor
from .mlp import MLPProcessor
from .linear_mg import LinearMultigridProcessor
from .multigrid import MultigridProcessor, Transfer
from .picard import CoefficientPicardProcessor, PicardProcessor
from .shared_nodes import SharedNodeProcessor

__all__ = ["MLPProcessor", "DOFGraph", "MessagePassing", "GraphProcessor", "MultigridProcessor",
           "LinearMultigridProcessor", "Transfer", "PicardProcessor", "CoefficientPicardProcessor",
           "SharedNodeProcessor", "LeastSquaresProcessor"]
