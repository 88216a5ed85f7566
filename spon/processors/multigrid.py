"""SPON-MG: a V-cycle processor over a Firedrake ``MeshHierarchy``.

Fine to coarse: pre-smoothing by message passing on each level's DOF graph,
then restriction ``R = D⁻¹Pᵀ`` (the transpose of prolongation, normalised to
average); on the coarsest level a wider processor that alternates message
passing with a global low-rank integral layer (:class:`GlobalKernel`), so one
cycle sees the whole domain, as the coarse solve of multigrid does; coarse to
fine: prolongation ``P`` (Firedrake's interpolation between nested levels,
assembled once as a sparse tensor), a skip connection from the same level on
the way down, and post-smoothing. Cf. MgNO (arXiv 2310.19809).
"""
from __future__ import annotations

import torch
from torch import nn

from ..fem import assembly
from ..fem.module import FEModule
from ..fem.sparse import spmv
from .graph import DOFGraph, GlobalKernel, MessagePassing, level_channels, scalar_space

__all__ = ["Transfer", "MultigridProcessor"]


class Transfer(FEModule):
    """Prolongation ``P`` (fine × coarse) between the nodes of nested spaces and the
    averaging restriction ``R = D⁻¹ Pᵀ``, acting on ``(batch, nodes, channels)``
    (the components of a vector space are channels)."""

    def __init__(self, V_coarse, V_fine):
        super().__init__()
        P = assembly.interpolation_matrix(scalar_space(V_coarse), scalar_space(V_fine))
        Pt = P.t().coalesce()
        rowsum = torch.sparse.sum(Pt, dim=1).to_dense()
        idx = Pt.indices()
        R = torch.sparse_coo_tensor(idx, Pt.values() / rowsum[idx[0]], Pt.shape, check_invariants=False).coalesce()
        self.register_buffer("P", P, persistent=False)
        self.register_buffer("R", R, persistent=False)
        self.register_buffer("Pt", Pt, persistent=False)

    @staticmethod
    def _act(A, h):
        B, N, C = h.shape
        y = spmv(A.to(h.dtype), h.permute(0, 2, 1).reshape(B * C, N))
        return y.reshape(B, C, -1).permute(0, 2, 1)

    def restrict(self, h):
        return self._act(self.R, h)

    def prolong(self, h):
        return self._act(self.P, h)

    def restrict_sum(self, h):
        """``Pᵀ h``: the transpose of prolongation, for residuals (dual quantities add up)."""
        return self._act(self.Pt, h)


class MultigridProcessor(nn.Module):
    """``(batch, N_fine·c_in) -> (batch, N_fine·c_out)`` by one V-cycle.

    Parameters
    ----------
    spaces : sequence of CG spaces (scalar, or vector with node-blocked
        channels) on the levels of a ``MeshHierarchy`` in 2D or 3D, coarsest first
        (at least 2; 3 or more for a real V-cycle).
    in_channels, out_channels : values per node (default: those of the spaces).
    linear_skip : add a pointwise linear map of the input, starting as the identity, with the
        V-cycle starting at zero (for decoders that hold the problem's Green's operator).
    width : channels on the fine levels; ``coarse_width`` on the coarsest.
    smooth : message-passing layers per pre- and per post-smoothing step.
    coarse_layers : message-passing layers on the coarsest level.
    """

    def __init__(self, spaces, in_channels: int | None = None, out_channels: int | None = None, width: int = 32,
                 coarse_width: int = 64, smooth: int = 2, coarse_layers: int = 4, linear_skip: bool = False):
        super().__init__()
        spaces, in_channels, out_channels, dim = level_channels(spaces, in_channels, out_channels)
        self.dim = dim
        self.hparams = dict(levels=len(spaces), in_channels=in_channels, out_channels=out_channels,
                            width=width, coarse_width=coarse_width, smooth=smooth, coarse_layers=coarse_layers)
        L = len(spaces)
        self.lift = nn.Sequential(nn.Linear(in_channels + dim, width), nn.GELU(), nn.Linear(width, width))
        self.pre = nn.ModuleList(nn.ModuleList(MessagePassing(width, dim + 1) for _ in range(smooth))
                                 for _ in range(L - 1))
        self.post = nn.ModuleList(nn.ModuleList(MessagePassing(width, dim + 1) for _ in range(smooth))
                                  for _ in range(L - 1))
        self.skip = nn.ModuleList(nn.Linear(2 * width, width) for _ in range(L - 1))
        self.to_coarse, self.from_coarse = nn.Linear(width, coarse_width), nn.Linear(coarse_width, width)
        self.coarse = nn.ModuleList(MessagePassing(coarse_width, dim + 1) for _ in range(coarse_layers))
        self.coarse_global = nn.ModuleList(GlobalKernel(coarse_width, dim=dim) for _ in range(coarse_layers))
        self.project = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, out_channels))
        if linear_skip:   # as GraphProcessor's: y = V-cycle(x) + W x, starting from W = I and a zero V-cycle
            self.hparams["linear_skip"] = True
            self.skip_linear = nn.Linear(in_channels, out_channels, bias=False)
            with torch.no_grad():
                self.skip_linear.weight.copy_(torch.eye(out_channels, in_channels) if in_channels >= out_channels
                                              else torch.zeros(out_channels, in_channels))
                self.project[-1].weight.zero_()
                self.project[-1].bias.zero_()
        self.bind(spaces)

    @property
    def starts_as_identity(self) -> bool:
        """Whether the untrained processor passes its input through (``linear_skip`` with at least as many
        channels in as out: the first ``out_channels`` pass)."""
        return bool(self.hparams.get("linear_skip")) and self.hparams["in_channels"] >= self.hparams["out_channels"]

    def bind(self, spaces) -> "MultigridProcessor":
        """Run on another hierarchy with the same number of levels; weights are kept."""
        spaces = list(spaces)
        if len(spaces) != self.hparams["levels"]:
            raise ValueError(f"spaces: expected {self.hparams['levels']} levels, got {len(spaces)}")
        if spaces[-1].mesh().geometric_dimension != self.dim:
            raise ValueError(f"spaces: expected spaces on {self.dim}D meshes, got "
                             f"{spaces[-1].mesh().geometric_dimension}D")
        dev = next(self.parameters()).device
        self.graphs = nn.ModuleList(DOFGraph(V) for V in spaces).to(dev)        # coarsest first
        self.transfers = nn.ModuleList(Transfer(a, b) for a, b in zip(spaces[:-1], spaces[1:])).to(dev)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine, c = self.graphs[-1], self.hparams["in_channels"]
        if x.dim() != 2 or x.shape[1] != fine.n_nodes * c:
            raise ValueError(f"x: expected shape (batch, {fine.n_nodes * c}), got {tuple(x.shape)}")
        B, L = x.shape[0], self.hparams["levels"]
        x_nodes = h = x.reshape(B, fine.n_nodes, c)
        h = self.lift(torch.cat([h, fine.coords.to(x.dtype).expand(B, -1, -1)], dim=-1))
        skips = []
        for lvl in range(L - 1, 0, -1):                   # fine -> coarse
            for layer in self.pre[lvl - 1]:
                h = layer(h, self.graphs[lvl])
            skips.append(h)
            h = self.transfers[lvl - 1].restrict(h)
        h = self.to_coarse(h)
        for layer, glob in zip(self.coarse, self.coarse_global):
            h = glob(layer(h, self.graphs[0]), self.graphs[0])
        h = self.from_coarse(h)
        for lvl in range(1, L):                           # coarse -> fine
            h = self.transfers[lvl - 1].prolong(h)
            h = self.skip[lvl - 1](torch.cat([h, skips.pop()], dim=-1))
            for layer in self.post[lvl - 1]:
                h = layer(h, self.graphs[lvl])
        y = self.project(h)
        if self.hparams.get("linear_skip"):
            y = y + self.skip_linear(x_nodes)
        return y.reshape(B, -1)
