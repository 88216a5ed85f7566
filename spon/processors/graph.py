"""Message passing on the DOF adjacency graph of an FE space.

Edges are the off-diagonal nonzeros of the space's sparsity pattern (DOFs that
share a cell). Edge features are coordinate differences scaled by the mean
edge length, node features include the DOF coordinates, and every weight acts
per node or per edge, so a trained processor runs on any mesh of the domain
(:meth:`GraphProcessor.bind`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..fem import assembly
from ..fem.layout import dof_coordinates
from ..fem.module import FEModule

__all__ = ["DOFGraph", "MessagePassing", "GlobalKernel", "GraphProcessor", "scalar_space", "block_size"]


def scalar_space(V):
    """The scalar space of ``V``'s nodes: ``V`` itself, or the space of one component
    of a vector or tensor space (same nodes, same DOF order of the nodes)."""
    import firedrake as fd

    if len(V) > 1:
        raise ValueError(f"V: expected a scalar, vector or tensor space, got a mixed space with {len(V)} parts "
                         "(build one processor per subspace, or one on the shared node graph)")
    if V.value_shape == ():
        return V
    return fd.FunctionSpace(V.mesh(), V.ufl_element().sub_elements[0])


def level_channels(spaces, in_channels=None, out_channels=None):
    """``(spaces, in_channels, out_channels, dim)`` of a processor over a hierarchy's levels (coarsest
    first, at least 2); the channels default to the finest level's values per node."""
    spaces = list(spaces)
    if len(spaces) < 2:
        raise ValueError(f"spaces: expected at least 2 levels (coarsest first), got {len(spaces)}")
    c = block_size(spaces[-1])
    return spaces, in_channels or c, out_channels or c, spaces[-1].mesh().geometric_dimension


def block_size(V) -> int:
    """Values per node: 1 for scalar spaces, 2 or 3 for vectors, 4 or 9 for tensors."""
    return int(np.prod(V.value_shape, dtype=int))


class DOFGraph(FEModule):
    """The DOF graph of the nodes of ``V`` (scalar, vector or tensor, 2D or 3D):
    ``edge_index`` (2, E) as (source, target), ``edge_attr`` (E, d + 1) =
    ``((x_s - x_t)/h̄, |x_s - x_t|/h̄)``, ``coords`` (N, d) in the bounding box scaled
    to unit size, the lumped-mass ``weights`` over ``|Ω|``, and the in-degree. The
    components of a vector space's node travel together (node-blocked channels).
    Buffers are not persistent: they are rebuilt from ``V``."""

    def __init__(self, V):
        super().__init__()
        V = scalar_space(V)
        dim = V.mesh().geometric_dimension
        if dim not in (2, 3):
            raise ValueError(f"V: expected a space on a 2D or 3D mesh, got dimension {dim}")
        A = assembly.mass_matrix(V)
        idx = A.indices()
        off = idx[0] != idx[1]
        src, dst = idx[1][off], idx[0][off]
        X = torch.as_tensor(dof_coordinates(V))
        d = X[src] - X[dst]
        length = d.norm(dim=1, keepdim=True)
        hbar = length.mean()
        self.n_nodes, self.h, self.dim = X.shape[0], float(hbar), dim
        self.register_buffer("edge_index", torch.stack([src, dst]), persistent=False)
        self.register_buffer("edge_attr", torch.cat([d / hbar, length / hbar], dim=1), persistent=False)
        # dimensionless: positions in the bounding box scaled by its longest side, weights of unit sum,
        # so the layers see the same numbers on a unit square and on a part measured in mm
        lo, extent = X.min(dim=0).values, (X.max(dim=0).values - X.min(dim=0).values).max()
        self.register_buffer("coords", (X - lo) / extent, persistent=False)
        # quadrature weights of the nodes: the lumped mass ∫ φ_i dx over |Ω|
        w = torch.sparse.sum(A, dim=1).to_dense()
        self.register_buffer("weights", w / w.sum(), persistent=False)
        deg = torch.zeros(X.shape[0], dtype=torch.float64).index_add_(0, dst, torch.ones_like(dst, dtype=torch.float64))
        self.register_buffer("inv_degree", (1.0 / deg.clamp_min(1)).unsqueeze(1), persistent=False)
        self.register_buffer("has_neighbours", (deg > 0).to(torch.float64).unsqueeze(1), persistent=False)


class MessagePassing(nn.Module):
    """``h_i ← h_i + φ([h_i, mean_j m_ij])``, ``m_ij = ψ(A h_j + B h_i + C e_ij)``."""

    def __init__(self, width: int, edge_dim: int = 3):
        super().__init__()
        self.src, self.dst = nn.Linear(width, width), nn.Linear(width, width, bias=False)
        self.edge = nn.Linear(edge_dim, width, bias=False)
        self.msg = nn.Linear(width, width)
        self.update = nn.Sequential(nn.Linear(2 * width, width), nn.GELU(), nn.Linear(width, width),
                                    nn.LayerNorm(width))
        self.act = nn.GELU()

    def forward(self, h: torch.Tensor, graph: DOFGraph) -> torch.Tensor:
        s, t = graph.edge_index
        # index_select, not h[:, s]: its backward is index_add_, several times faster on CPU than index_put_
        m = self.act(self.src(h).index_select(1, s) + self.dst(h).index_select(1, t)
                     + self.edge(graph.edge_attr.to(h.dtype)))
        # mean_j ψ(m_ij) with ψ affine is ψ(mean_j m_ij) where a node has neighbours: ψ on the nodes, not
        # on the (about six times as many) edges
        agg = torch.zeros_like(h).index_add_(1, t, m) * graph.inv_degree.to(h.dtype)
        agg = nn.functional.linear(agg, self.msg.weight) + self.msg.bias * graph.has_neighbours.to(h.dtype)
        return h + self.update(torch.cat([h, agg], dim=-1))


class GlobalKernel(nn.Module):
    """A low-rank integral operator ``h_i ← h_i + W Σ_r a_r(x_i) ∫ b_r(y) h(y) dy``.

    ``a_r``, ``b_r`` are small MLPs of the coordinates and the integral uses the
    graph's quadrature weights (lumped mass), so the layer is global and the
    same function of the field on any mesh of the domain.
    """

    def __init__(self, width: int, rank: int = 16, hidden: int = 32, dim: int = 2):
        super().__init__()
        self.a = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, rank))
        self.b = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, rank))
        self.mix = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, graph: DOFGraph) -> torch.Tensor:
        X = graph.coords.to(h.dtype)
        w = graph.weights.to(h.dtype).unsqueeze(1)
        coef = torch.einsum("nr,bnc->brc", self.b(X) * w, h)          # ∫ b_r h dy
        return h + self.mix(torch.einsum("nr,brc->bnc", self.a(X), coef))


class GraphProcessor(nn.Module):
    """``(batch, N·c_in) -> (batch, N·c_out)`` by ``layers`` rounds of message passing
    on the DOF graph of ``V``'s nodes. The channels default to the values per node
    of ``V`` (1 for scalars, the components of a vector space, node-blocked).
    ``linear_skip`` adds a pointwise linear map of the input that starts as the
    identity, with the message-passing part starting at zero.

    Examples
    --------
    >>> import firedrake as fd, torch
    >>> V = fd.FunctionSpace(fd.UnitSquareMesh(4, 4), "CG", 1)
    >>> P = GraphProcessor(V, width=8, layers=2)
    >>> P(torch.zeros(3, V.dim())).shape
    torch.Size([3, 25])
    """

    def __init__(self, V, in_channels: int | None = None, out_channels: int | None = None, width: int = 32,
                 layers: int = 4, linear_skip: bool = False):
        super().__init__()
        c = block_size(V)
        in_channels, out_channels = in_channels or c, out_channels or c
        dim = V.mesh().geometric_dimension
        self.hparams = dict(in_channels=in_channels, out_channels=out_channels, width=width, layers=layers)
        if linear_skip:
            # y = P(x) + W x with P zero and W the identity at start (the first out_channels pass when there
            # are more in, zero when fewer): with a decoder that holds the problem's Green's operator the model
            # starts as that linear solve
            self.hparams["linear_skip"] = True
            self.skip_linear = nn.Linear(in_channels, out_channels, bias=False)
            with torch.no_grad():
                self.skip_linear.weight.copy_(torch.eye(out_channels, in_channels) if in_channels >= out_channels
                                              else torch.zeros(out_channels, in_channels))
        self.dim = dim
        self.lift = nn.Sequential(nn.Linear(in_channels + dim, width), nn.GELU(), nn.Linear(width, width))
        self.layers = nn.ModuleList(MessagePassing(width, edge_dim=dim + 1) for _ in range(layers))
        self.project = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, out_channels))
        if linear_skip:   # and the nonlinear part starts at zero: the model starts as the zero map
            nn.init.zeros_(self.project[-1].weight)
            nn.init.zeros_(self.project[-1].bias)
        self.bind(V)

    @property
    def starts_as_identity(self) -> bool:
        """Whether the untrained processor passes its input through (``linear_skip`` with at least as many
        channels in as out: the first ``out_channels`` pass)."""
        return bool(self.hparams.get("linear_skip")) and self.hparams["in_channels"] >= self.hparams["out_channels"]

    def bind(self, V) -> "GraphProcessor":
        """Run on the DOF graph of ``V`` (another mesh of the domain); weights are kept."""
        if V.mesh().geometric_dimension != self.dim:
            raise ValueError(f"V: expected a space on a {self.dim}D mesh, got {V.mesh().geometric_dimension}D")
        p = next(self.parameters())
        self.graph = DOFGraph(V).to(p.device)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g, c = self.graph, self.hparams["in_channels"]
        if x.dim() != 2 or x.shape[1] != g.n_nodes * c:
            raise ValueError(f"x: expected shape (batch, {g.n_nodes * c}), got {tuple(x.shape)}")
        h = x.reshape(x.shape[0], g.n_nodes, c)
        xy = g.coords.to(x.dtype).expand(x.shape[0], -1, -1)
        y = self.lift(torch.cat([h, xy], dim=-1))
        for layer in self.layers:
            y = layer(y, g)
        y = self.project(y)
        if self.hparams.get("linear_skip"):
            y = y + self.skip_linear(h)
        return y.reshape(x.shape[0], -1)
