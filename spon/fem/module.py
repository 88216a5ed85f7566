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
        self._float64_originals = {}

    def register_exact_buffer(self, name: str, tensor: torch.Tensor):
        """A non-persistent buffer that every ``.to()`` casts from its float64 original, so a
        model cast to float32 and back holds the exact matrix again (e.g. the discrete curl,
        whose exactness is the structure a decoder promises)."""
        self.register_buffer(name, tensor, persistent=False)
        self._float64_originals[name] = tensor.detach().to("cpu", torch.float64)

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        for name, original in self._float64_originals.items():
            now = self._buffers[name]          # fn's dtype and device, then the exact values in them
            self._buffers[name] = original.to(device=now.device, dtype=now.dtype)
        return self

    @property
    def dtype(self) -> torch.dtype:
        return self._ref.dtype

    @property
    def device(self) -> torch.device:
        return self._ref.device
