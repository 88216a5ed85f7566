"""The data-driven baseline: an MLP fit of the homogenised stress ``σ̄(ε̄)`` on FE snapshots."""
from __future__ import annotations

import torch

from .surrogate import Surrogate, forward_with_jacobian, mlp

__all__ = ["StressMLP"]


class StressMLP(Surrogate):
    """Data-driven baseline: an MLP fit of ``σ̄(ε̄)`` on the snapshots; tangent by autodiff.

    ``anchored=True`` subtracts the network's value at zero strain, so
    ``σ̄(0) = 0`` holds exactly, as it does for the RVE (no residual stress).
    ``strain_norm=True`` also feeds the network the strain's norm (:class:`StrainNorm`).
    """

    # what checkpoints written before a field existed were made with (not defaults: history)
    WRITTEN_BEFORE = {"anchored": False, "strain_norm": False}

    def __init__(self, width=64, depth=3, box=0.04, anchored=True, meta=None, strain_norm=True):
        super().__init__()
        dt = torch.float64
        self.meta = dict(meta or {}, width=width, depth=depth, box=box, anchored=bool(anchored), kind="StressMLP",
                         strain_norm=bool(strain_norm))
        self.anchored = bool(anchored)
        self.register_buffer("box", torch.full((3,), float(box), dtype=dt))
        self.register_buffer("scale", torch.ones(3, dtype=dt))
        self.net = mlp(3, 3, width, depth, strain_norm=strain_norm).to(dt)

    @classmethod
    def from_meta(cls, meta, materials=None):
        meta = {**cls.WRITTEN_BEFORE, **meta}
        return cls(meta["width"], meta["depth"], meta["box"], anchored=meta["anchored"], meta=meta,
                   strain_norm=meta["strain_norm"])

    def homogenised_stress(self, E):
        y = self.net(E / self.box)
        if self.anchored:
            y = y - self.net(torch.zeros_like(E[:1]))
        return self.scale * y

    def _stress_and_tangent(self, E):
        y, J = forward_with_jacobian(self.net, E / self.box)
        if self.anchored:
            y = y - self.net(torch.zeros_like(E[:1]))
        return self.scale * y, self.scale[None, :, None] * J / self.box
