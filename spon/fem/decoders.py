"""Decoders: network coefficients -> functions on the output space, with structure
held by construction.

A decoder maps a flat tensor ``(batch, in_dim)`` to ``(batch, *SpaceLayout(V).shape)``;
:meth:`Decoder.decode` returns Firedrake Functions instead.
"""
from __future__ import annotations

import firedrake as fd
import torch

from . import assembly
from .bcs import dirichlet_mask
from .checks import check_finite, check_tensor, mesh_of
from .convert import to_functions
from .layout import SpaceLayout
from .module import FEModule
from .solve import spd_solve
from .sparse import diagonal, spmv

__all__ = ["Decoder", "CoefficientDecoder", "DirichletDecoder", "DivergenceFreeDecoder",
           "MixedDecoder"]


class Decoder(FEModule):
    """Base class: output space ``V``, input width ``in_dim``."""

    def __init__(self, V, in_dim: int):
        super().__init__()
        self.V = V
        self.out_layout = SpaceLayout(V)
        self.in_dim = int(in_dim)

    def _input(self, x, name="x"):
        return check_tensor(x, name, shape=(self.in_dim,), dtype=self.dtype, device=self.device)

    def _coefficients(self, x, name="x"):
        """Input that is itself a function on ``V``: flat or in ``V``'s layout."""
        return self.out_layout.flat(self.out_layout.check(x, name, dtype=self.dtype, device=self.device))

    def decode(self, x, *args, **kwargs) -> list:
        """Decode to a list of Firedrake Functions on ``V``."""
        with torch.no_grad():
            return to_functions(self(x, *args, **kwargs), self.V)


class CoefficientDecoder(Decoder):
    """Coefficients are DOF values: ``D(x) = x`` reshaped to the space's layout."""

    def __init__(self, V):
        super().__init__(V, SpaceLayout(V).dim)

    def forward(self, x):
        return self.out_layout.natural(self._coefficients(x))


class DirichletDecoder(Decoder):
    """``u = lift(g) + Z x``: boundary DOFs of ``bcs`` take the BC data exactly.

    ``Z`` zeroes the DOFs of the ``DirichletBC`` nodes (``bc.zero``), and the lift
    puts the data there. The data are either the ``bcs``' own values, or per
    sample, ``g`` of shape ``(batch, n_boundary)`` (ordered as
    :attr:`boundary_dofs`) or a whole ``(batch, *shape)`` function on ``V``
    whose boundary values are used.

    ``lifting="boundary"`` extends the data by zero into the interior;
    ``lifting="harmonic"`` by the discrete harmonic extension
    ``u_I = -K_II⁻¹ K_IB g`` (stiffness ``K``, batched CG in torch), so the
    network only has to learn a field that vanishes on the boundary.

    ``interior="inverse_operator"`` does the same with the Green's operator of a
    given SPD bilinear form ``operator(u, v)`` (e.g. linear elasticity), kept as a
    dense matrix ``G = K_II⁻¹ M_I`` computed once by a sparse factorisation (so for
    spaces of up to 20 000 DOFs): for a linear problem with that operator the
    processor only has to pass the source through.

    ``interior="values"`` takes the interior DOFs from ``x``;
    ``interior="inverse_laplacian"`` reads ``x`` as a source ``s`` and sets
    ``u_I = K_II⁻¹ (M s)_I``: the discrete Green's operator of ``-Δ`` with
    homogeneous Dirichlet data. The network then predicts ``-Δu``, a local
    quantity, and the decoder does the global, smoothing part exactly.

    Examples
    --------
    >>> import firedrake as fd, torch
    >>> V = fd.FunctionSpace(fd.UnitSquareMesh(4, 4), "CG", 1)
    >>> dec = DirichletDecoder(V, [fd.DirichletBC(V, 1.0, "on_boundary")])
    >>> u = dec(torch.randn(3, V.dim(), dtype=torch.float64))
    >>> bool((u[:, dec.boundary_dofs] == 1.0).all())
    True
    """

    def __init__(self, V, bcs, lifting: str = "boundary", interior: str = "values", operator=None):
        super().__init__(V, SpaceLayout(V).dim)
        bcs = [bcs] if isinstance(bcs, fd.DirichletBC) else list(bcs)
        if not bcs:
            raise ValueError("bcs: expected at least one DirichletBC")
        if lifting not in ("boundary", "harmonic"):
            raise ValueError(f"lifting: expected 'boundary' or 'harmonic', got {lifting!r}")
        if interior not in ("values", "inverse_laplacian", "inverse_operator"):
            raise ValueError(f"interior: expected 'values', 'inverse_laplacian' or 'inverse_operator', "
                             f"got {interior!r}")
        if (interior == "inverse_operator") != (operator is not None):
            raise ValueError("operator: expected a bilinear form a(u, v) exactly when interior='inverse_operator'")
        needs_k = lifting == "harmonic" or interior == "inverse_laplacian"
        if needs_k and (len(V) > 1 or V.ufl_element().sobolev_space.name not in ("H1", "H2")):
            raise ValueError(f"lifting, interior: 'harmonic' and 'inverse_laplacian' need a non-mixed "
                             f"H1-conforming space, got {V.ufl_element()}")
        on_boundary = torch.as_tensor(dirichlet_mask(V, bcs, "the decoder's space"))
        data = fd.Function(V)
        for bc in bcs:
            bc.apply(data)
        with data.dat.vec_ro as v:
            data_vals = torch.as_tensor(v.array_r.copy())
        self.bcs, self.lifting, self.interior = bcs, lifting, interior
        bdofs = torch.nonzero(on_boundary).flatten()
        self.register_buffer("mask", on_boundary)
        self.register_buffer("boundary_dofs", bdofs)
        if needs_k:
            idofs = torch.nonzero(~on_boundary).flatten()
            K = assembly.stiffness_matrix(V)
            pos = torch.full((self.in_dim,), -1, dtype=torch.long)
            pos[idofs] = torch.arange(idofs.numel())
            pos[bdofs] = torch.arange(bdofs.numel())
            (r, c), vals = K.indices(), K.values()
            rows_in = ~on_boundary[r]
            for name, sel, shape in (("K_II", rows_in & ~on_boundary[c], (idofs.numel(),) * 2),
                                     ("K_IB", rows_in & on_boundary[c], (idofs.numel(), bdofs.numel()))):
                self.register_buffer(name, torch.sparse_coo_tensor(
                    torch.stack([pos[r[sel]], pos[c[sel]]]), vals[sel], shape,
                    check_invariants=False).coalesce())
            self.register_buffer("interior_dofs", idofs)
            self.register_buffer("K_II_inv_diag", 1.0 / diagonal(self.K_II))
            if interior == "inverse_laplacian":
                self.register_buffer("M", assembly.mass_matrix(V))
        if interior == "inverse_operator":
            self.register_exact_buffer("G", assembly.green_matrix(V, operator, on_boundary.numpy()))
        self.operator = operator
        self.register_buffer("lift", self._lift(data_vals[bdofs].unsqueeze(0))[0])

    @property
    def n_boundary(self) -> int:
        return int(self.boundary_dofs.numel())

    def boundary_values(self, g) -> torch.Tensor:
        """Boundary data ``(batch, n_boundary)`` from a batch of functions on ``V``."""
        return self._coefficients(g, "g")[:, self.boundary_dofs]

    def _lift(self, gb: torch.Tensor) -> torch.Tensor:
        """Extension of boundary data ``(batch, n_boundary)`` to ``(batch, dim)``."""
        lift = gb.new_zeros(gb.shape[0], self.in_dim).index_copy(1, self.boundary_dofs, gb)
        if self.lifting == "harmonic" and self.K_II.shape[0] > 0:
            uI = spd_solve(self.K_II, -spmv(self.K_IB, gb), self.K_II_inv_diag)
            lift = lift.index_copy(1, self.interior_dofs, uI)
        return lift

    def forward(self, x, g=None):
        x = self._coefficients(x)
        check_finite(x, "x")
        if g is None:
            lift = self.lift.expand_as(x)
        else:
            if g.dim() == 2 and g.shape[1] == self.n_boundary and self.n_boundary != self.in_dim:
                gb = check_tensor(g, "g", shape=(self.n_boundary,), dtype=self.dtype, device=self.device)
            else:
                gb = self.boundary_values(g)
            if gb.shape[0] != x.shape[0]:
                raise ValueError(f"g: expected batch size {x.shape[0]} (as x), got {gb.shape[0]}")
            check_finite(gb, "g")
            lift = self._lift(gb)
        if self.interior == "inverse_operator":
            x = x @ self.G.T
        elif self.interior == "inverse_laplacian":
            sI = spmv(self.M, x)[:, self.interior_dofs]
            x = torch.zeros_like(x).index_copy(1, self.interior_dofs,
                                               spd_solve(self.K_II, sI, self.K_II_inv_diag))
        # on the boundary: the data, bit for bit; inside: lift + x
        return self.out_layout.natural(torch.where(self.mask, lift, lift + x))


class DivergenceFreeDecoder(Decoder):
    """``u = curl ψ`` with ψ ∈ CG_k (``Q``) and u ∈ RT_k or BDM_k (``V``), 2D.

    The discrete curl is exact (``curl CG_k ⊂ RT_k``), so ``div u = 0`` to
    round-off for any network output. With ``bcs`` on ``Q`` (ψ constant on a
    boundary part), ``u·n = 0`` there as well.
    """

    def __init__(self, Q, V, bcs=None):
        if Q.mesh() is not V.mesh():
            raise ValueError("V: expected a space on the same mesh as Q")
        if Q.mesh().geometric_dimension != 2:
            raise ValueError(f"Q: expected a 2D mesh, got dimension {Q.mesh().geometric_dimension}")
        if Q.value_shape != () or Q.ufl_element().family() not in ("Lagrange", "Q"):
            raise ValueError(f"Q: expected a scalar CG space for the stream function, got {Q.ufl_element()}")
        vfam = V.ufl_element().family()
        if vfam not in ("Raviart-Thomas", "Brezzi-Douglas-Marini", "RTCF", "BDMCF"):
            raise ValueError(f"V: expected an RT or BDM space, got {V.ufl_element()}")
        if V.ufl_element().degree() < Q.ufl_element().degree() - (0 if vfam.startswith("R") else 1):
            raise ValueError(f"V: degree {V.ufl_element().degree()} is too low to hold curl of "
                             f"CG{Q.ufl_element().degree()}")
        super().__init__(V, SpaceLayout(Q).dim)
        self.Q = Q
        self.stream = DirichletDecoder(Q, bcs) if bcs is not None else CoefficientDecoder(Q)
        self.register_exact_buffer("C", assembly.curl_matrix(Q, V))

    def forward(self, psi, g=None):
        psi = self.stream(psi) if g is None else self.stream(psi, g)
        return self.out_layout.natural(spmv(self.C, psi.reshape(psi.shape[0], -1)))


class MixedDecoder(Decoder):
    """One decoder per subspace of a mixed space ``W``; inputs are concatenated.

    ``g``: per-sample data on all of ``W`` ``(batch, W.dim())``; each part that
    takes boundary data (a Dirichlet or divergence-free decoder) reads its own block.
    """

    def __init__(self, W, decoders):
        decoders = list(decoders)
        if len(decoders) != len(W):
            raise ValueError(f"decoders: expected {len(W)} decoders (one per subspace of W), "
                             f"got {len(decoders)}")
        for i, (d, Wi) in enumerate(zip(decoders, W)):
            if d.V.ufl_element() != Wi.ufl_element() or mesh_of(d.V) is not Wi.mesh():
                raise ValueError(f"decoders[{i}]: expected a decoder into W.sub({i}) = "
                                 f"{Wi.ufl_element()}, got one into {d.V.ufl_element()}")
        super().__init__(W, sum(d.in_dim for d in decoders))
        self.parts = torch.nn.ModuleList(decoders)

    @property
    def boundary_dofs(self) -> torch.Tensor:
        """The DOFs of ``W`` that the parts' Dirichlet decoders fix, in W's flat numbering."""
        return torch.cat([d.boundary_dofs + int(off) for d, off in zip(self.parts, self.out_layout.offsets)
                          if hasattr(d, "boundary_dofs")] or [torch.zeros(0, dtype=torch.long)])

    def forward(self, x, g=None):
        x = self._input(x)
        gs = [None] * len(self.parts) if g is None else self.out_layout.split(self._coefficients(g, "g"))
        outs, start = [], 0
        for d, gi in zip(self.parts, gs):
            takes_g = gi is not None and isinstance(d, (DirichletDecoder, DivergenceFreeDecoder))
            y = d(x[:, start:start + d.in_dim], gi) if takes_g else d(x[:, start:start + d.in_dim])
            outs.append(y.reshape(y.shape[0], -1))
            start += d.in_dim
        return torch.cat(outs, dim=1)
