"""Graph and multigrid processors for mixed spaces, on one shared node graph.

Taylor–Hood P2–P1 puts the velocity on the P2 nodes and the pressure on the
vertices, which are P2 nodes too. So one graph serves both: the P2 node graph
(and, for multigrid, the P2 spaces of the hierarchy), with a channel per value
of every part (u_x, u_y, p). A part's channels are zero at the host nodes it
lacks (the pressure at edge midpoints) and those outputs are dropped.

Chosen over one graph per subspace with cross-space messages because the
existing processors then serve mixed spaces unchanged, messages between
velocity and pressure are the ordinary node-to-node ones, and the multigrid
transfers stay those of one Lagrange space.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..fem.layout import SpaceLayout, dof_coordinates, match_points
from ..fem.module import FEModule
from .graph import block_size, scalar_space

__all__ = ["SharedNodeProcessor", "host_space", "host_index"]


def host_space(*spaces):
    """The scalar space, among the parts of ``spaces``, with the most nodes: the host graph."""
    parts = [scalar_space(Vi) for V in spaces for Vi in V]
    return max(parts, key=lambda S: S.dim())


def host_index(host, V) -> np.ndarray:
    """For each node of ``V`` (a scalar, vector or tensor space), its index among the nodes of
    ``host``; a ``ValueError`` names a node of ``V`` that is no node of ``host``."""
    H, X = dof_coordinates(host), dof_coordinates(scalar_space(V))
    idx = match_points(H, X)
    if (idx < 0).any():
        bad = X[int(np.flatnonzero(idx < 0)[0])]
        raise ValueError(f"V: its node at {bad.tolist()} is not a node of the host space "
                         f"{host.ufl_element()} (a shared node graph needs nested node sets)")
    return idx


class SharedNodeProcessor(FEModule):
    """``(batch, U.dim()) -> (batch, V.dim())`` through ``inner``, a processor on the nodes
    of ``host`` with one channel per value of each part of ``U`` (in) and ``V`` (out).

    Examples
    --------
    >>> import firedrake as fd, torch
    >>> from spon.processors import GraphProcessor
    >>> mesh = fd.UnitSquareMesh(3, 3)
    >>> W = fd.VectorFunctionSpace(mesh, "CG", 2) * fd.FunctionSpace(mesh, "CG", 1)
    >>> host = host_space(W)
    >>> P = SharedNodeProcessor(GraphProcessor(host, in_channels=3, out_channels=3, width=8, layers=1),
    ...                         host, W, W)
    >>> P(torch.zeros(2, W.dim())).shape == (2, W.dim())
    True
    """

    def __init__(self, inner: nn.Module, host, U, V):
        super().__init__()
        self.inner = inner
        self.n_host = host.dim()
        self.in_layout, self.out_layout = SpaceLayout(U), SpaceLayout(V)
        self.in_blocks = [block_size(Ui) for Ui in U]
        self.out_blocks = [block_size(Vi) for Vi in V]
        for side, spaces in (("in", U), ("out", V)):
            for i, Vi in enumerate(spaces):
                self.register_buffer(f"{side}_nodes_{i}", torch.as_tensor(host_index(host, Vi)), persistent=False)
        self.hparams = {"host": str(host.ufl_element()), "in_channels": sum(self.in_blocks),
                        "out_channels": sum(self.out_blocks)}

    @property
    def starts_as_identity(self) -> bool:
        """The inner processor starts as the identity and the parts in are the parts out."""
        return bool(getattr(self.inner, "starts_as_identity", False)) and self.in_blocks == self.out_blocks and all(
            torch.equal(self._nodes("in", i), self._nodes("out", i)) for i in range(len(self.in_blocks)))

    def _nodes(self, side, i):
        return getattr(self, f"{side}_nodes_{i}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        h = x.new_zeros(B, self.n_host, sum(self.in_blocks))
        c = 0
        for i, (xi, b) in enumerate(zip(self.in_layout.split(x.reshape(B, -1)), self.in_blocks)):
            h[:, self._nodes("in", i), c:c + b] = xi.reshape(B, -1, b)
            c += b
        y = self.inner(h.reshape(B, -1)).reshape(B, self.n_host, sum(self.out_blocks))
        out, c = [], 0
        for i, b in enumerate(self.out_blocks):
            out.append(y[:, self._nodes("out", i), c:c + b].reshape(B, -1))
            c += b
        return torch.cat(out, dim=1)
