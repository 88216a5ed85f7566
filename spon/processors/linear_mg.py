"""A processor that is exactly linear in its input: learned multigrid cycles over a ``MeshHierarchy``.

Multigrid solves ``A u = f`` by cycles of smoothing, restriction of the residual,
a coarse solve and prolongation of the correction. Here every piece is learned
and linear in the data:

* on each level a learned operator ``A_l`` and pre- and post-smoothers ``S_l``,
  each a stencil on the level's DOF graph with ``c × c`` blocks whose values are
  a learned linear map of the level's geometric couplings ``∫ ∂_b φ_j ∂_a φ_i dx``
  plus small networks of the edge geometry (:class:`Stencil`), so the weights
  follow the mesh and the map stays linear in the data;
* Firedrake's prolongation ``P`` between nested levels and its transpose for the
  residual (a dual quantity: summed, not averaged);
* on the coarsest level an exact solve with the learned coarse operator ``A_0``
  (dense, factorised at every call: the coarsest mesh is small);
* ``cycles`` V-cycles ``u ← u + V(f − A_L u)`` from ``u = 0`` (one V-cycle of classical
  multigrid contracts the error by about 0.1; MgNO, arXiv 2310.19809, stacks several).

It starts as geometric multigrid for the FE Laplacian of each level with the
boundary nodes held (a Dirichlet problem's operator, up to scale): operators the
Laplace stiffness, damped block-Jacobi smoothers of the operators, the coarse
operator solved exactly. Given labelled pairs, :meth:`SPON.fit_scales
<spon.models.SPON.fit_scales>` first *infers the operator*: ``A_Θ u`` is linear in
``Θ``, so the ``Θ`` with ``A_Θ u ≈ b`` on the pairs is a least-squares problem of
``c² d²`` unknowns (16 for plane elasticity), solved in closed form and put on every
level (one ``k̄`` for all, so the levels are a rediscretisation). For data from a
constant-coefficient operator this recovers it exactly, and the untrained model is
multigrid for the right operator; training then tunes the smoothers (and, with
``train_operator``, the operators). Without labels, pairs ``(K v, v)`` from the
physics' stiffness give the same inference with no solve.

No bias and no activation touches the data, so ``P(αf + βg) = αP(f) + βP(g)`` to
round-off (``hparams["linear"]``). ``nonlinear=True`` adds a SPON-MG V-cycle
(:class:`~spon.processors.MultigridProcessor`) on top, for maps that are not linear.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from ..fem import assembly
from ..fem.module import FEModule
from .graph import DOFGraph, level_channels, scalar_space
from .multigrid import MultigridProcessor, Transfer

__all__ = ["LinearMultigridProcessor", "Stencil", "Couplings"]


class Couplings(FEModule):
    """The geometric couplings of a level, on its DOF graph's edges and nodes: ``g_ij = G_ij / k̄``
    with ``G_ij[a, b] = ∫ ∂_b φ_j ∂_a φ_i dx`` (:func:`~spon.fem.assembly.gradient_matrices`),
    ``k̄`` the mean diagonal of the Laplace stiffness (of this level, or the one given: a hierarchy
    uses its finest level's on every level); ``held``, 1 on the nodes of the facets marked
    ``dirichlet`` (``"on_boundary"`` or markers); the Laplace diagonal ``a_ii = tr g_ii`` (1 on held
    nodes). Buffers are rebuilt from ``V``."""

    def __init__(self, V, graph: DOFGraph, dirichlet="on_boundary", kbar: float | None = None):
        super().__init__()
        import firedrake as fd
        import numpy as np

        V = scalar_space(V)
        G = assembly.gradient_matrices(V)
        d = len(G)
        M = assembly.mass_matrix(V).coalesce()
        idx = M.indices()
        off = idx[0] != idx[1]
        vals = []
        for row in G:
            for Gab in row:
                Gab = Gab.coalesce()
                if not torch.equal(Gab.indices(), idx):
                    raise ValueError("V: the gradient matrices' sparsity differs from the mass matrix's")
                vals.append(Gab.values())
        g = torch.stack(vals, dim=1)                     # (nnz, d²), rows as in the mass matrix
        edge, node = g[off], torch.zeros(graph.n_nodes, d * d, dtype=g.dtype).index_add_(0, idx[0][~off], g[~off])
        # the graph's edges are the mass matrix's off-diagonal entries, in the same order (target = row)
        if not torch.equal(torch.stack([idx[1][off], idx[0][off]]), graph.edge_index):
            raise ValueError("graph: expected the DOF graph of V")
        trace = node[:, :: d + 1].sum(dim=1)
        # one k̄ for every level (the finest's): a rediscretised operator is then Galerkin-consistent
        self.kbar = kbar = float(trace.mean()) if kbar is None else float(kbar)
        b = torch.zeros(graph.n_nodes, dtype=torch.float64)
        b[torch.as_tensor(np.unique(fd.DirichletBC(V, 0.0, dirichlet).nodes), dtype=torch.long)] = 1.0
        self.register_buffer("held", b, persistent=False)
        self.register_buffer("edge", edge / kbar, persistent=False)
        self.register_buffer("node", node / kbar, persistent=False)
        self.register_buffer("a_diag", torch.where(b > 0, torch.ones_like(trace), trace / kbar), persistent=False)


class Stencil(nn.Module):
    """A linear map on a DOF graph, ``(S h)_i = D_i h_i + Σ_{j ~ i} W_ij h_j``, blocks ``c × c``.

    ``W_ij = Θ g_ij`` (a learned linear map of the geometric couplings: any constant-coefficient
    second-order operator's stiffness is one) plus a small network of the edge's geometry and of
    whether node ``i`` is held (Dirichlet); ``D_i`` likewise from ``g_ii``. Nonlinear in the mesh,
    linear in ``h``.

    ``kind="operator"`` starts as the Laplace stiffness over ``k̄`` on free rows and the identity on
    held rows (a Dirichlet problem's operator). ``kind="smoother"`` is damped block Jacobi for the
    level's operator, ``D_i = (A_ii)⁻¹ Ω`` with a learned ``Ω`` (``2/3 I`` at first), plus learned
    couplings over the Laplace diagonal (zero at first): it follows the operator as that is learned.
    """

    def __init__(self, c: int, dim: int, hidden: int = 16, kind: str = "operator"):
        super().__init__()
        if kind not in ("operator", "smoother"):
            raise ValueError(f"kind: expected 'operator' or 'smoother', got {kind!r}")
        self.c, self.kind = c, kind
        self.theta = nn.Linear(dim * dim, c * c, bias=False)
        with torch.no_grad():
            self.theta.weight.zero_()
            if kind == "operator":      # Θ g = tr(g) I: the Laplacian, componentwise
                for k in range(c):
                    for a in range(dim):
                        self.theta.weight[k * c + k, a * dim + a] = 1.0
        self.edge = nn.Sequential(nn.Linear(dim + 2 + dim * dim, hidden), nn.GELU(), nn.Linear(hidden, c * c))
        self.node = nn.Sequential(nn.Linear(2 + dim * dim, hidden), nn.GELU(), nn.Linear(hidden, c * c))
        for net in (self.edge, self.node):
            nn.init.zeros_(net[-1].weight)
            nn.init.zeros_(net[-1].bias)
        self.diag = nn.Parameter(torch.eye(c) * (2 / 3 if kind == "smoother" else 0.0))

    def weights(self, graph: DOFGraph, geo: Couplings, dt, jacobi: torch.Tensor | None = None):
        """``(W, D)``: the edge blocks ``(E, c, c)`` and the diagonal blocks ``(N, c, c)``; a smoother
        needs ``jacobi``, the inverse diagonal blocks ``(N, c, c)`` of its level's operator."""
        s, t = graph.edge_index
        c = self.c
        b = geo.held.to(dt)
        ge, gn = geo.edge.to(dt), geo.node.to(dt)
        inside = (1 - b)[:, None, None]
        W = self.edge(torch.cat([graph.edge_attr.to(dt), b[t, None], ge], dim=1)).view(-1, c, c)
        D = self.node(torch.cat([graph.inv_degree.to(dt), b[:, None], gn], dim=1)).view(-1, c, c)
        if self.kind == "operator":      # couplings inside; the identity on boundary rows
            W = W + inside[t] * self.theta(ge).view(-1, c, c)
            D = D + self.diag.to(dt) + inside * self.theta(gn).view(-1, c, c) + (1 - inside) * torch.eye(c, dtype=dt)
        else:
            if jacobi is None:
                raise ValueError("jacobi: a smoother needs its operator's inverse diagonal blocks")
            a = geo.a_diag.to(dt)
            W = (W + self.theta(ge).view(-1, c, c)) / a[t, None, None]
            D = jacobi @ self.diag.to(dt) + D / a[:, None, None]
        return W, D

    @staticmethod
    def apply(W: torch.Tensor, D: torch.Tensor, h: torch.Tensor, graph: DOFGraph) -> torch.Tensor:
        """``(S h)_i = D_i h_i + Σ_j W_ij h_j`` for ``h`` of shape ``(batch, N, c)``."""
        s, t = graph.edge_index
        m = torch.einsum("eij,bej->bei", W, h.index_select(1, s))
        return torch.einsum("nij,bnj->bni", D, h) + torch.zeros_like(h).index_add_(1, t, m)

    def forward(self, h: torch.Tensor, graph: DOFGraph, geo: Couplings, jacobi=None) -> torch.Tensor:
        return self.apply(*self.weights(graph, geo, h.dtype, jacobi), h, graph)

    def dense(self, graph: DOFGraph, geo: Couplings, dt, weights=None) -> torch.Tensor:
        """The operator as a dense ``(N·c, N·c)`` matrix (node-major), for the coarse solve."""
        s, t = graph.edge_index
        W, D = self.weights(graph, geo, dt) if weights is None else weights
        N, c = graph.n_nodes, self.c
        blocks = torch.zeros(N, N, c, c, dtype=dt, device=W.device).index_put((t, s), W, accumulate=True)
        idx = torch.arange(N, device=W.device)
        blocks = blocks.index_put((idx, idx), D, accumulate=True)
        return blocks.permute(0, 2, 1, 3).reshape(N * c, N * c)


class LinearMultigridProcessor(nn.Module):
    """``(batch, N_fine·c) -> (batch, N_fine·c)`` by ``cycles`` learned V-cycles, linear in the input.

    Parameters
    ----------
    spaces : CG spaces (scalar, or vector with node-blocked channels) on the levels of a
        ``MeshHierarchy``, coarsest first (at least 2).
    cycles : V-cycles, each ``u ← u + V(f − A u)``.
    hidden : width of the networks that give the stencils' weights from the geometry.
    nonlinear : add a SPON-MG V-cycle of ``width`` (``coarse_width``...) on top; the map is then
        no longer linear, and ``hparams["linear"]`` says so.
    dirichlet : the facets whose nodes are held at zero (``"on_boundary"`` or markers): the input is
        zeroed there and the operators' rows are the identity, so the cycles solve the Dirichlet
        problem; a spec-built model takes the Dirichlet decoder's.
    infer_operator : :meth:`SPON.fit_scales <spon.models.SPON.fit_scales>` with labelled pairs sets every
        level's operator to the least-squares one of the pairs (:meth:`operator_normal_equations`),
        so training starts from multigrid for the operator the data obey.
    train_operator : after inference, train the operators too; by default they stay as inferred and
        training tunes the smoothers (an ill-conditioned operator, such as elasticity's, is perturbed by
        every Adam step: measured on Cook's membrane, training it raised the error from 0.004 to 0.006 at
        a rate of 3e-5, while the smoothers alone took it to 0.0005).

    Examples
    --------
    >>> import firedrake as fd, torch
    >>> levels = [fd.FunctionSpace(m, "CG", 1) for m in fd.MeshHierarchy(fd.UnitSquareMesh(2, 2), 2)]
    >>> proc = LinearMultigridProcessor(levels, cycles=2).double()
    >>> f, g = torch.randn(2, 1, levels[-1].dim(), dtype=torch.float64)
    >>> bool(torch.allclose(proc(3 * f - 2 * g), 3 * proc(f) - 2 * proc(g), atol=1e-12))
    True
    """

    scale_from_output = True       # SPON.fit_scales sizes the output scale on this processor's output

    def __init__(self, spaces, cycles: int = 2, hidden: int = 16, nonlinear: bool = False, width: int = 16,
                 coarse_width: int = 32, smooth: int = 1, coarse_layers: int = 2, in_channels: int | None = None,
                 out_channels: int | None = None, dirichlet="on_boundary", infer_operator: bool = True,
                 train_operator: bool = False):
        super().__init__()
        spaces, in_channels, out_channels, dim = level_channels(spaces, in_channels, out_channels)
        if in_channels != out_channels:
            raise ValueError(f"in_channels, out_channels: a multigrid cycle maps a field to one of the same "
                             f"channels, got {in_channels} and {out_channels}")
        if cycles < 1:
            raise ValueError(f"cycles: expected at least 1, got {cycles}")
        self.dim = dim
        self.c = c = in_channels
        self.hparams = dict(levels=len(spaces), in_channels=c, out_channels=c, cycles=int(cycles), hidden=hidden,
                            nonlinear=bool(nonlinear), linear=not nonlinear, infer_operator=bool(infer_operator),
                            train_operator=bool(train_operator),
                            dirichlet=dirichlet if isinstance(dirichlet, str) else [int(m) for m in dirichlet])
        L = len(spaces)
        # start as geometric multigrid for the FE Laplacian with the held rows the identity: operators its
        # stiffness over k̄, smoothers damped Jacobi (ω = 2/3)
        self.A = nn.ModuleList(Stencil(c, dim, hidden, "operator") for _ in range(L))
        self.pre = nn.ModuleList(Stencil(c, dim, hidden, "smoother") for _ in range(L - 1))
        self.post = nn.ModuleList(Stencil(c, dim, hidden, "smoother") for _ in range(L - 1))
        if nonlinear:
            self.hparams.update(width=width, coarse_width=coarse_width, smooth=smooth, coarse_layers=coarse_layers)
            self.correction = MultigridProcessor(spaces, in_channels=c, out_channels=c, width=width,
                                                 coarse_width=coarse_width, smooth=smooth,
                                                 coarse_layers=coarse_layers)
        self.bind(spaces)

    def bind(self, spaces) -> "LinearMultigridProcessor":
        """Run on another hierarchy with the same number of levels; weights are kept (the stencils
        follow the geometry, and the coarse solve is that of the learned coarse operator)."""
        spaces = list(spaces)
        if len(spaces) != self.hparams["levels"]:
            raise ValueError(f"spaces: expected {self.hparams['levels']} levels, got {len(spaces)}")
        dev = self.A[0].diag.device
        self.graphs = nn.ModuleList(DOFGraph(V) for V in spaces).to(dev)        # coarsest first
        fine = Couplings(spaces[-1], self.graphs[-1], self.hparams["dirichlet"])
        self.geo = nn.ModuleList([*(Couplings(V, g, self.hparams["dirichlet"], kbar=fine.kbar)
                                    for V, g in zip(spaces[:-1], self.graphs[:-1])), fine]).to(dev)
        self.transfers = nn.ModuleList(Transfer(a, b) for a, b in zip(spaces[:-1], spaces[1:])).to(dev)
        if hasattr(self, "correction"):
            self.correction.bind(spaces)
        return self

    def _weights(self, dt):
        """Every level's operator and smoother blocks, once per call (they depend on the mesh and the
        parameters only); the coarse operator factorised."""
        ops, pre, post = [], [], []
        for lvl, (g, geo) in enumerate(zip(self.graphs, self.geo)):
            W, D = self.A[lvl].weights(g, geo, dt)
            ops.append((W, D))
            if lvl:
                jacobi = torch.linalg.inv(D)
                pre.append(self.pre[lvl - 1].weights(g, geo, dt, jacobi))
                post.append(self.post[lvl - 1].weights(g, geo, dt, jacobi))
        coarse = torch.linalg.lu_factor(self.A[0].dense(self.graphs[0], self.geo[0], dt, ops[0]))
        return ops, pre, post, coarse

    def _vcycle(self, r: torch.Tensor, lvl: int, w) -> torch.Tensor:
        # residuals and corrections vanish on held nodes: the cycle solves for the free values only
        ops, pre, post, coarse = w
        free = (1 - self.geo[lvl].held.to(r.dtype))[None, :, None]
        r = r * free
        if lvl == 0:                   # the coarse solve with the learned coarse operator
            B, N, c = r.shape
            return torch.linalg.lu_solve(*coarse, r.reshape(B, N * c).T).T.reshape(B, N, c) * free
        g, T, apply = self.graphs[lvl], self.transfers[lvl - 1], Stencil.apply
        e = apply(*pre[lvl - 1], r, g) * free
        rc = T.restrict_sum(r - apply(*ops[lvl], e, g))
        e = e + T.prolong(self._vcycle(rc, lvl - 1, w)) * free
        return e + apply(*post[lvl - 1], r - apply(*ops[lvl], e, g), g) * free

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine, c = self.graphs[-1], self.c
        if x.dim() != 2 or x.shape[1] != fine.n_nodes * c:
            raise ValueError(f"x: expected shape (batch, {fine.n_nodes * c}), got {tuple(x.shape)}")
        B, L = x.shape[0], self.hparams["levels"]
        w = self._weights(x.dtype)
        f = x.reshape(B, fine.n_nodes, c) * (1 - self.geo[-1].held.to(x.dtype))[None, :, None]
        u = self._vcycle(f, L - 1, w)
        for _ in range(self.hparams["cycles"] - 1):
            u = u + self._vcycle(f - Stencil.apply(*w[0][L - 1], u, fine), L - 1, w)
        y = u.reshape(B, -1)
        if self.hparams["nonlinear"]:
            y = y + self.correction(x)
        return y

    @torch.no_grad()
    def operator_normal_equations(self, x: torch.Tensor, u: torch.Tensor):
        """The normal equations ``(F, R, ‖x‖²)`` of ``min_Θ Σ ‖A_Θ u − x‖²`` over the free rows of the finest
        level, for inputs ``x`` and wanted outputs ``u`` (both ``(batch, N·c)``): ``A_Θ u`` is linear in
        ``Θ``, so the operator that maps the outputs back to the inputs is a small least-squares
        problem (operator inference). Sums over batches; :meth:`set_operator` takes the solution."""
        g, geo, c = self.graphs[-1], self.geo[-1], self.c
        s, t = g.edge_index
        B, N = len(x), g.n_nodes
        u, x = u.reshape(B, N, c).double(), x.reshape(B, N, c).double()
        ge, gn = geo.edge.double(), geo.node.double()
        # h[b, i, q, k] = Σ_j g_ij[q] u_j[k]: the features whose combination by Θ gives (A_Θ u)_i
        h = torch.einsum("nq,bnk->bnqk", gn, u).index_add_(1, t, torch.einsum("eq,bek->beqk", ge, u[:, s]))
        free = geo.held.double() == 0
        h, x = h[:, free].reshape(-1, h.shape[2] * c), x[:, free].reshape(-1, c)
        return h.T @ h, h.T @ x, (x * x).sum()

    @torch.no_grad()
    def set_operator(self, F: torch.Tensor, R: torch.Tensor, xx: torch.Tensor | None = None,
                     rcond: float = 1e-10) -> torch.Tensor:
        """Solve the normal equations of :meth:`operator_normal_equations` (minimum norm: directions of
        ``F`` below ``rcond`` times its largest eigenvalue are dropped, such as a null Lagrangian
        ``∂_x u ∂_y v − ∂_y u ∂_x v`` that no interior row sees) and set every level's ``Θ`` to the
        solution (rediscretisation: the couplings share one ``k̄``), with the learned corrections zero. Returns ``Θ``, shape ``(c·c, d²)``.

        With ``xx`` (``Σ ‖x‖²``), ``inference_residual`` is the fit's relative residual
        ``‖A_Θ u − x‖ / ‖x‖``: round-off for pairs of an operator of this family; above 0.05 a warning
        says the pairs are not (on Cook's membrane's neo-Hookean data it is large and the inferred
        operator is indefinite)."""
        c, n = self.c, F.shape[0]
        lam, Q = torch.linalg.eigh(F)
        keep = lam > rcond * lam.max()
        sol = Q[:, keep] @ ((Q[:, keep].T @ R) / lam[keep, None])        # ((q, k), a)
        if xx is not None and xx > 0:
            res = (torch.einsum("ia,ij,ja->", sol, F, sol) - 2 * (sol * R).sum() + xx).clamp_min(0) / xx
            self.inference_residual = float(res.sqrt())
            if self.inference_residual > 0.05:
                warnings.warn(f"the pairs are not those of a linear operator of the couplings' family: the "
                              f"inferred operator leaves a relative residual {self.inference_residual:.2g} "
                              "(pass infer_operator=False for a Laplace start)", stacklevel=2)
        theta = sol.reshape(n // c, c, c).permute(2, 1, 0).reshape(c * c, n // c)    # row a·c + k, column q
        for A in self.A:
            A.theta.weight.copy_(theta.to(A.theta.weight))
            A.diag.zero_()
            for net in (A.edge, A.node):
                net[-1].weight.zero_()
                net[-1].bias.zero_()
        self.A.requires_grad_(self.hparams["train_operator"])
        return theta
