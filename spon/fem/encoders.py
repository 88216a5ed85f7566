"""Encoders: input functions on an FE space -> coefficient vectors on the model's space.

Every encoder is an ``nn.Module`` mapping a tensor ``(batch, *SpaceLayout(U).shape)``
to a flat tensor ``(batch, V.dim())``. :meth:`Encoder.encode` does the same for
Firedrake Functions.
"""
from __future__ import annotations

import torch

from . import assembly
from .bcs import dirichlet_mask
from .convert import to_tensor
from .layout import SpaceLayout
from .module import FEModule
from .solve import spd_solve
from .sparse import diagonal, spmv

__all__ = ["Encoder", "CoefficientEncoder", "MomentEncoder", "L2ProjectionEncoder",
           "InterpolationEncoder", "TransferEncoder", "GreenEncoder"]


class Encoder(FEModule):
    """Base class: input space ``U``, model space ``V``."""

    def __init__(self, U, V=None):
        super().__init__()
        self.U, self.V = U, (U if V is None else V)
        self.in_layout, self.out_layout = SpaceLayout(self.U), SpaceLayout(self.V)
        self.in_dim, self.out_dim = self.in_layout.dim, self.out_layout.dim

    def _input(self, x):
        return self.in_layout.flat(self.in_layout.check(x, "x", dtype=self.dtype, device=self.device))

    def encode(self, functions) -> torch.Tensor:
        """Encode Firedrake Functions on ``U``."""
        return self(to_tensor(functions, self.U, dtype=self.dtype, device=self.device))


class CoefficientEncoder(Encoder):
    """The DOF coefficients themselves: ``E(u) = u`` (flattened)."""

    def __init__(self, V):
        super().__init__(V)

    def forward(self, x):
        return self._input(x)


class MomentEncoder(Encoder):
    """Galerkin moments ``b_i = ∫ u φ_i dx`` of ``u ∈ U`` against the basis of ``V``.

    The result is the coefficient vector of a Cofunction on ``V``.
    """

    def __init__(self, U, V=None):
        super().__init__(U, V)
        self.register_buffer("B", assembly.mixed_mass_matrix(self.U, self.V)
                             if self.V is not self.U else assembly.mass_matrix(self.U))

    def forward(self, x):
        return spmv(self.B, self._input(x))


class L2ProjectionEncoder(MomentEncoder):
    """L² projection onto ``V``: ``M_V⁻¹ b``. Consistent across discretisations:
    a function resolved on both meshes encodes to nearly the same field."""

    def __init__(self, U, V=None):
        super().__init__(U, V)
        M = assembly.mass_matrix(self.V)
        self.register_buffer("M", M)
        self.register_buffer("Minv_diag", 1.0 / diagonal(M))

    def forward(self, x):
        return spd_solve(self.M, super().forward(x), self.Minv_diag)


class InterpolationEncoder(Encoder):
    """Interpolation of ``u ∈ U`` into ``V`` (``U`` may live on another mesh)."""

    def __init__(self, U, V):
        super().__init__(U, V)
        self.register_buffer("I", assembly.interpolation_matrix(self.U, self.V))

    def forward(self, x):
        return spmv(self.I, self._input(x))


class GreenEncoder(L2ProjectionEncoder):
    """The solution of a linear problem with the input as its source: ``u = G P x``.

    ``P`` is the L² projection of ``x ∈ U`` onto ``V`` (the identity when
    ``U`` has ``V``'s element on ``V``'s mesh) and ``G`` the Green's operator of the SPD form
    ``operator(u, v)`` on ``V`` with zero data on ``bcs``
    (:func:`~spon.fem.assembly.green_matrix`: dense, so ``V`` of at most
    20 000 DOFs). With linear elasticity as the operator and a body force as
    the input, the encoded field is the linear elastic displacement, and the
    processor learns only what the nonlinear problem adds to it.

    ``with_source=True`` encodes, node by node, the source's components and then
    the solution's divided by the operator's gain (the RMS of ``G 1``), so a
    processor can read both; with a decoder that applies ``G`` again, a
    processor that passes the source through starts as the linear solve, and
    what it adds is a *local* correction (a force) rather than a displacement.

    Examples
    --------
    >>> import firedrake as fd, torch
    >>> V = fd.FunctionSpace(fd.UnitSquareMesh(8, 8), "CG", 1)
    >>> a = lambda u, v: fd.inner(fd.grad(u), fd.grad(v)) * fd.dx
    >>> enc = GreenEncoder(V, V, fd.DirichletBC(V, 0.0, "on_boundary"), a)
    >>> u = enc(torch.ones(1, V.dim(), dtype=torch.float64))   # -Δu = 1, u = 0 on ∂Ω
    >>> round(float(u.max()), 3)     # the exact solution peaks at 0.0737
    0.073
    """

    def __init__(self, U, V, bcs, operator, with_source: bool = False):
        super().__init__(U, V)
        bcs = [bcs] if not isinstance(bcs, (list, tuple)) else list(bcs)
        mask = dirichlet_mask(self.V, bcs, "V")
        G = assembly.green_matrix(self.V, operator, mask)
        self.register_exact_buffer("G", G)
        self.bcs, self.operator = bcs, operator
        # a spec builds U and V as two objects: the same element on the same mesh needs no projection
        self.same_space = self.U.mesh() is self.V.mesh() and self.U.ufl_element() == self.V.ufl_element()
        self.with_source = bool(with_source)
        if self.with_source:
            # per node (source, solution / gain): the gain, the solution's size for a unit source, puts both
            # on one scale without looking at data
            one = torch.ones(1, G.shape[1], dtype=G.dtype)
            self.register_buffer("gain", (one @ G.T).pow(2).mean().sqrt().reshape(()))
            self.out_dim = 2 * self.out_dim

    def forward(self, x):
        x = self._input(x) if self.same_space else super().forward(x)
        u = x @ self.G.T
        if not self.with_source:
            return u
        c = self.out_layout.shape[-1] if len(self.out_layout.shape) > 1 else 1
        n = x.shape[0]
        return torch.cat([x.reshape(n, -1, c), (u / self.gain).reshape(n, -1, c)], dim=-1).reshape(n, -1)


def TransferEncoder(U, V, method: str = "l2") -> Encoder:
    """Bring input given on ``U`` (another mesh of the same domain) onto ``V``.

    ``method="interpolate"`` evaluates at V's nodes; ``method="l2"`` is the
    supermesh L² projection.
    """
    if method == "interpolate":
        return InterpolationEncoder(U, V)
    if method == "l2":
        return L2ProjectionEncoder(U, V)
    raise ValueError(f"method: expected 'interpolate' or 'l2', got {method!r}")
