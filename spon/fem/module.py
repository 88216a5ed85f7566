"""Base class for numerics modules that hold FE matrices as buffers."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["FEModule"]


class FEModule(nn.Module):
    """An ``nn.Module`` whose dtype and device follow ``.to()``; inputs must match."""

    def __init__(self):
        super().__init__()
        self.register_buffer("_ref", torch.zeros(0, dtype=torch.float64), persistent=False)

    @property
    def dtype(self) -> torch.dtype:
        return self._ref.dtype

    @property
    def device(self) -> torch.device:
        return self._ref.device
