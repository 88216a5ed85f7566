"""Function-space norms and losses on batched coefficient tensors.

``‖u‖²_{L²} = uᵀ M u``, ``|u|²_{H¹} = uᵀ K u`` and ``‖u‖²_{H¹} = uᵀ (M + K) u``
with the mass and stiffness matrices assembled by Firedrake.
"""
from __future__ import annotations

import torch

from . import assembly
from .layout import SpaceLayout
from .module import FEModule
from .sparse import spmv

__all__ = ["FENorm", "FELoss"]

_KINDS = ("L2", "H1", "H1_semi")


class FENorm(FEModule):
    """Batched norm on ``V``: ``forward(u) -> (batch,)``.

    Parameters
    ----------
    V : FunctionSpace
    kind : ``"L2"``, ``"H1"`` or ``"H1_semi"``

    Examples
    --------
    >>> import firedrake as fd, torch
    >>> V = fd.FunctionSpace(fd.UnitSquareMesh(8, 8), "CG", 1)
    >>> one = torch.ones(1, V.dim(), dtype=torch.float64)
    >>> float(FENorm(V, "L2")(one))  # ‖1‖ on the unit square
    1.0
    """

    def __init__(self, V, kind: str = "L2"):
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"kind: expected one of {_KINDS}, got {kind!r}")
        self.V, self.kind, self.layout = V, kind, SpaceLayout(V)
        if kind == "L2":
            G = assembly.mass_matrix(V)
        elif kind == "H1_semi":
            G = assembly.stiffness_matrix(V)
        else:
            G = (assembly.mass_matrix(V) + assembly.stiffness_matrix(V)).coalesce()
        self.register_buffer("G", G)

    def squared(self, u: torch.Tensor, name: str = "u") -> torch.Tensor:
        u = self.layout.flat(self.layout.check(u, name, dtype=self.dtype, device=self.device))
        return (u * spmv(self.G, u)).sum(dim=1)

    def squared_parts(self, u: torch.Tensor, name: str = "u") -> torch.Tensor:
        """``(batch, parts)``: each part's squared norm (the mass and stiffness
        matrices of a mixed space are block-diagonal)."""
        u = self.layout.flat(self.layout.check(u, name, dtype=self.dtype, device=self.device))
        e, off = u * spmv(self.G, u), self.layout.offsets
        return torch.stack([e[:, a:b].sum(dim=1) for a, b in zip(off, off[1:])], dim=1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        # clamp: round-off can make uᵀKu slightly negative for K semidefinite
        return self.squared(u).clamp_min(0).sqrt()

    def relative_error(self, pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        """``‖pred - true‖ / ‖true‖`` per sample."""
        pred = self.layout.flat(self.layout.check(pred, "pred", dtype=self.dtype, device=self.device))
        true = self.layout.flat(self.layout.check(true, "true", dtype=self.dtype, device=self.device))
        if pred.shape[0] != true.shape[0]:
            raise ValueError(f"pred: expected the batch size of true ({true.shape[0]}), got {pred.shape[0]}")
        num = self.squared(pred - true, "pred - true")
        den = self.squared(true, "true")
        return (num / den.clamp_min(torch.finfo(den.dtype).tiny)).clamp_min(0).sqrt()


class FELoss(FEModule):
    """Mean over the batch of ``‖pred - true‖²`` or, with ``relative=True``,
    of ``‖pred - true‖² / ‖true‖²``; differentiable in ``pred`` and ``true``.

    On a mixed space with ``relative=True`` each part is relative to its own
    norm and the parts are averaged (``per_part``, the default there), so a
    pressure larger than the velocity does not drown the velocity's error.
    """

    def __init__(self, V, kind: str = "L2", relative: bool = True, per_part: bool | None = None):
        super().__init__()
        self.norm = FENorm(V, kind)
        self.relative = relative
        self.per_part = relative and len(V) > 1 if per_part is None else bool(per_part)
        if self.per_part and not (relative and len(V) > 1):
            raise ValueError("per_part: expected a mixed space V and relative=True")

    def forward(self, pred, true):
        lay = self.norm.layout
        pred = lay.flat(lay.check(pred, "pred", dtype=self.dtype, device=self.device))
        true = lay.flat(lay.check(true, "true", dtype=self.dtype, device=self.device))  # flat or natural, each
        if self.per_part:
            tiny = torch.finfo(pred.dtype).tiny
            return (self.norm.squared_parts(pred - true) / self.norm.squared_parts(true).clamp_min(tiny)).mean()
        err = self.norm.squared(pred - true, "pred - true")
        if self.relative:
            err = err / self.norm.squared(true, "true").clamp_min(torch.finfo(err.dtype).tiny)
        return err.mean()
