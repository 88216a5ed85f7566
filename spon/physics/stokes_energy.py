"""The Stokes energy of an exactly divergence-free velocity, as a batched torch module.

On divergence-free velocities the Stokes problem ``−νΔu + ∇p = f``, ``u = 0`` on ∂Ω, is the
minimisation of ``Π(u; f) = ½ a(u, u) − ∫ f · u dx``: the pressure drops out. In an H(div)
space (RT or BDM, the curl decoder's output) ``a`` is the symmetric interior-penalty form of
``−νΔ`` on the broken gradient, with the no-slip condition imposed by the same penalty on
the boundary. Firedrake assembles ``A`` and the load map ``B`` once; the loss is pure torch,
so a curl-decoder SPON trains on it with no labels and no solves, and its minimiser over
``u = curl ψ`` is the H(div)-conforming DG solution, divergence-free to round-off.

Examples
--------
>>> import firedrake as fd, torch
>>> mesh = fd.UnitSquareMesh(4, 4)
>>> E = StokesEnergy(fd.FunctionSpace(mesh, "RT", 2), fd.VectorFunctionSpace(mesh, "CG", 1))
>>> float(E(torch.zeros(1, E.n_out, dtype=torch.float64), torch.ones(1, E.n_in, dtype=torch.float64)))
0.0
"""
from __future__ import annotations

import torch

from ..fem import assembly
from ..fem.module import FEModule
from ..fem.sparse import spmv

__all__ = ["StokesEnergy"]


class StokesEnergy(FEModule):
    """``Π(u; f) = ½ uᵀ A u − uᵀ B f`` per sample, divided by ``‖f‖²`` (L² over ``U``).

    ``V``: the H(div) velocity space (RT or BDM); ``U``: the body force's space (default ``V``).
    Call it as ``loss(u, f)`` with batches ``(B, dim V)`` and ``(B, dim U)``. :meth:`minimiser`
    gives the exact minimiser over ``u = ψ D`` for a decoder matrix ``D`` (the curl).
    """

    def __init__(self, V, U=None, nu: float = 1.0, alpha: float = 10.0):
        super().__init__()
        family = V.ufl_element().family()
        if family not in ("Raviart-Thomas", "Brezzi-Douglas-Marini", "RTCF", "BDMCF"):
            raise ValueError(f"V: expected an H(div) space (RT or BDM), got {V.ufl_element()}")
        U = V if U is None else U
        if U.mesh() is not V.mesh():
            raise ValueError("U: expected a space on V's mesh")
        if not nu > 0:
            raise ValueError(f"nu: expected a positive viscosity, got {nu!r}")
        self.register_exact_buffer("A", assembly.interior_penalty_matrix(V, nu, alpha).coalesce())
        self.register_exact_buffer("B", assembly.mixed_mass_matrix(U, V).coalesce())
        self.register_exact_buffer("M", assembly.mass_matrix(U).coalesce())
        self.n_in, self.n_out = U.dim(), V.dim()

    def _check(self, u, f):
        if u.dim() != 2 or u.shape[1] != self.n_out:
            raise ValueError(f"u: expected shape (batch, {self.n_out}), got {tuple(u.shape)}")
        if f.dim() != 2 or f.shape != (len(u), self.n_in):
            raise ValueError(f"f: expected shape ({len(u)}, {self.n_in}), got {tuple(f.shape)}")

    def forward(self, u: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        f = f.reshape(len(f), -1)
        self._check(u, f)
        energy = 0.5 * (u * spmv(self.A, u)).sum(1) - (u * spmv(self.B, f)).sum(1)
        return energy / (f * spmv(self.M, f)).sum(1)

    @torch.no_grad()
    def minimiser(self, D: torch.Tensor, f: torch.Tensor, tol: float = 1e-12) -> torch.Tensor:
        """``ψ`` minimising ``Π(ψ D; f)`` for each row of ``f``: ``(D A Dᵀ) ψᵀ = D B f``, with the
        directions ``D`` sends to zero (held ψ DOFs) left at zero."""
        f = f.reshape(len(f), -1).to(torch.float64)
        D = D.to(torch.float64)
        if D.dim() != 2 or D.shape[1] != self.n_out:
            raise ValueError(f"D: expected shape (n_psi, {self.n_out}), got {tuple(D.shape)}")
        A = self.A.to(torch.float64)
        K = D @ spmv(A, D).T
        lam, Q = torch.linalg.eigh(K)
        keep = lam > lam.max() * tol
        rhs = spmv(self.B.to(torch.float64), f) @ D.T
        return ((rhs @ Q[:, keep]) / lam[keep]) @ Q[:, keep].T
