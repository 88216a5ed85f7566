"""Hyperelastic stored energy as a batched torch module: ``E(u) = ∫ ψ(I + ∇u) dx``.

Firedrake assembles the map from DOFs to ``∇u`` at quadrature points once
(:func:`spon.fem.assembly.quadrature_gradient`); the energy, the internal force
``∂E/∂u`` and the load residual are then pure torch, batched, differentiable and
on any device. The density ``ψ(F)`` is a torch function of a batch of deformation
gradients (``neo_hookean``, ``mooney_rivlin`` or the user's own); it is the torch
twin of the UFL energy the FE solver minimises (``test_hyperelastic_energy.py``
checks them equal to round-off).

Examples
--------
>>> import firedrake as fd, torch
>>> V = fd.VectorFunctionSpace(fd.UnitSquareMesh(4, 4), "CG", 1)
>>> E = HyperelasticEnergy(V, neo_hookean(mu=1.0, lmbda=1.0))
>>> float(E(torch.zeros(1, V.dim(), dtype=torch.float64)))   # the undeformed body stores nothing
0.0
"""
from __future__ import annotations

import torch

from ..fem import assembly
from ..fem.module import FEModule
from ..fem.sparse import spmv

__all__ = ["HyperelasticEnergy", "PotentialEnergyLoss", "neo_hookean", "mooney_rivlin"]


def neo_hookean(mu: float, lmbda: float):
    """Compressible neo-Hookean ``ψ(F) = μ/2 (tr FᵀF − d − 2 ln J) + λ/2 (ln J)²`` (the twin of
    :func:`spon.data.hyperelastic.neo_hookean_energy`); ``F`` of shape ``(..., d, d)``."""
    def psi(F):
        d = F.shape[-1]
        lnJ = torch.log(torch.linalg.det(F))
        return mu / 2 * ((F * F).sum((-2, -1)) - d - 2 * lnJ) + lmbda / 2 * lnJ ** 2
    psi.spec = {"kind": "neo_hookean", "mu": float(mu), "lmbda": float(lmbda)}
    return psi


def mooney_rivlin(c1: float, c2: float, lmbda: float):
    """Compressible Mooney–Rivlin in 3D,
    ``ψ = c1 (I₁ − 3 − 2 ln J) + c2 (I₂ − 3 − 4 ln J) + λ/2 (ln J)²`` with ``I₁ = tr C``, ``I₂ = ½((tr C)² − tr C²)``, ``C = FᵀF`` (stress-free at ``F = I``)."""
    def psi(F):
        C = F.transpose(-2, -1) @ F
        i1 = C.diagonal(dim1=-2, dim2=-1).sum(-1)
        i2 = 0.5 * (i1 ** 2 - (C * C).sum((-2, -1)))
        lnJ = torch.log(torch.linalg.det(F))
        return c1 * (i1 - 3 - 2 * lnJ) + c2 * (i2 - 3 - 4 * lnJ) + lmbda / 2 * lnJ ** 2
    psi.spec = {"kind": "mooney_rivlin", "c1": float(c1), "c2": float(c2), "lmbda": float(lmbda)}
    return psi


class HyperelasticEnergy(FEModule):
    """``E(u) = Σ_q w_q ψ(I + ∇u(x_q))`` for a batch ``u`` of shape ``(B, dim V)`` of a vector space ``V``.

    ``internal_force(u)`` is ``∂E/∂u`` (the assembled ``∫ P(F) : ∇v``). ``quadrature_degree`` defaults to
    ``2(p − 1)``: exact for the linearised energy; the FE solver's own degree is estimated from ``ψ``, so
    compare with ``dx(degree=...)`` set to the same.
    """

    def __init__(self, V, psi, quadrature_degree=None):
        super().__init__()
        D, w = assembly.quadrature_gradient(V, quadrature_degree)
        self.register_exact_buffer("D", D)
        self.register_exact_buffer("w", w)
        self.psi, self.dim = psi, V.dim()
        self.shape = tuple(V.value_shape) + (V.mesh().geometric_dimension,)

    def deformation_gradient(self, u: torch.Tensor) -> torch.Tensor:
        """``F = I + ∇u`` at the quadrature points, shape ``(B, n_q, c, d)``."""
        if u.ndim != 2 or u.shape[1] != self.dim:
            raise ValueError(f"u: expected shape (B, {self.dim}), got {tuple(u.shape)}")
        if u.dtype != self.dtype or u.device != self.device:
            raise ValueError(f"u: expected {self.dtype} on {self.device} (the module's), got {u.dtype} on "
                             f"{u.device}")
        g = spmv(self.D, u).reshape(u.shape[0], -1, *self.shape)
        return g + torch.eye(self.shape[0], self.shape[1], dtype=u.dtype, device=u.device)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return (self.psi(self.deformation_gradient(u)) * self.w).sum(-1)

    def internal_force(self, u: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """``∂E/∂u``, shape ``(B, dim V)``; ``create_graph=True`` to differentiate it again (training)."""
        with torch.enable_grad():
            if not u.requires_grad:
                u = u.detach().requires_grad_(True)
                create_graph = False
            return torch.autograd.grad(self(u).sum(), u, create_graph=create_graph)[0]


class PotentialEnergyLoss(FEModule):
    """Per-sample potential energy ``Π(u; f) = E(u) − ∫ f · u dx``, divided by ``‖f‖²`` (L² over ``U``;
    or, given ``compliance`` ``K⁻¹``, by the linear elastic work ``b · K⁻¹ b`` of the load): a
    physics loss whose minimiser over ``u`` (with the clamped DOFs held by the model) is the FE solution for
    the body force ``f`` on ``U`` (default ``V``). Call it as ``loss(u, f)`` with batches ``(B, dim V)``,
    ``(B, dim U)``: the ``physics`` argument of :meth:`spon.training.Trainer.fit`, no solve and no labels.
    """

    def __init__(self, V, psi, U=None, quadrature_degree=None, compliance=None):
        super().__init__()
        U = V if U is None else U
        self.energy = HyperelasticEnergy(V, psi, quadrature_degree)
        self.register_exact_buffer("B", assembly.mixed_mass_matrix(U, V).coalesce())
        self.register_exact_buffer("M", assembly.mass_matrix(U).coalesce())
        self.n_in = U.dim()
        if compliance is not None:
            compliance = torch.as_tensor(compliance)
            if compliance.shape != (V.dim(), V.dim()):
                raise ValueError(f"compliance: expected a ({V.dim()}, {V.dim()}) matrix (load to linear "
                                 f"displacement), got {tuple(compliance.shape)}")
            self.register_buffer("compliance", compliance.to(torch.float64))
        else:
            self.compliance = None

    def scale(self, f: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        """Each sample's normaliser: ``‖f‖²``, or with ``compliance`` ``K⁻¹`` the linear elastic
        work ``b · K⁻¹ b`` of its load ``b = B f`` (twice the linear problem's ``−Π``), so that every
        sample's minimum is near ``−½`` however rough or smooth its force."""
        if self.compliance is None:
            return (f * spmv(self.M, f)).sum(1)
        b = spmv(self.B, f) if b is None else b
        return (b * (b @ self.compliance.to(b.dtype).T)).sum(1)

    def forward(self, u: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        f = f.reshape(len(f), -1)
        if f.shape[1] != self.n_in or len(f) != len(u):
            raise ValueError(f"f: expected shape ({len(u)}, {self.n_in}), got {tuple(f.shape)}")
        u = u.reshape(len(u), -1)
        b = spmv(self.B, f)
        return (self.energy(u) - (b * u).sum(1)) / self.scale(f, b)
