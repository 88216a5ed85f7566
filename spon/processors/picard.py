"""A learned Picard iteration: exact linear solves, a learned stress at the quadrature points.

For a hyperelastic body ``R(u) = ∫ P(I + ∇u) : ∇v − ⟨f, v⟩`` and a linear elastic
stiffness ``K``, the solution satisfies ``K u = f + Dᵀ W (σ_lin(∇u) − P(I + ∇u))``:
the load that linear elasticity would need is the true load plus a stress that is a
*pointwise* function of the deformation gradient. This processor takes the linear
elastic displacement ``u₁ = K⁻¹ f`` (the ``inverse_elasticity`` encoder) and runs

    u_{k+1} = u₁ + K⁻¹ Dᵀ W τ_k(∇u_k, ∇u₁),    k = 1 … steps,

with ``K⁻¹`` the exact Green's operator (clamped DOFs stay exactly zero), ``D`` the map
from DOFs to gradients at quadrature points and ``W`` the quadrature weights, all
assembled by Firedrake once (:func:`spon.fem.assembly.quadrature_gradient`,
:func:`~spon.fem.assembly.green_matrix`). Only the stresses ``τ_k`` are learned: small
MLPs of the gradient at one point, shared by every point, so the learned part is a
constitutive correction, independent of the mesh. The exact ``τ = σ_lin − P`` gives
plain Picard (modified Newton with the initial tangent), which diverges on large
deformations; the learned ``τ_k`` are trained so that ``steps`` iterations land on the
solution. ``τ_k`` start at zero: the untrained model is linear elasticity.

The processor works in physical units (``physical_units``: SPON's scales stay 1), with
the strains divided by ``strain_scale`` (the RMS of ``∇u₁`` over the training inputs,
set by :meth:`~spon.models.SPON.fit_scales`) and the stresses by ``μ · strain_scale``.
"""
from __future__ import annotations

import torch
from torch import nn

from ..fem import assembly
from ..fem.forms import ElasticityForm
from ..fem.module import FEModule
from ..fem.sparse import spmv

__all__ = ["PicardProcessor", "CoefficientPicardProcessor"]


def _mlp(n_in, width, depth, n_out):
    layers, d = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.GELU()]
        d = width
    last = nn.Linear(d, n_out)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)     # the correction starts at zero: the model starts as linear elasticity
    return nn.Sequential(*layers, last)


class _QuadratureIteration(FEModule):
    """What both iterations share: ``D``, ``Dᵀ`` and ``W`` of the output space ``V`` and the exact inverse
    ``G`` of its linear operator (held DOFs: zero rows), assembled once; a step is ``u₁ + G Dᵀ W τ``."""

    physical_units = True
    starts_as_identity = True
    reads_input_space = False    # True: the encoder's target is the input's own space

    def _assemble(self, V, inverse: torch.Tensor, quadrature_degree=None):
        D, w = assembly.quadrature_gradient(V, quadrature_degree)
        self.register_exact_buffer("D", D.coalesce())
        self.register_exact_buffer("Dt", D.t().coalesce())
        self.register_exact_buffer("w", w)
        self.register_exact_buffer("inverse", inverse)
        self.n_grad = (int(V.value_shape[0]) if V.value_shape else 1) * V.mesh().geometric_dimension

    def gradients(self, u: torch.Tensor) -> torch.Tensor:
        """``∇u`` at the quadrature points, ``(B, n_q, c·d)``."""
        return spmv(self.D, u).reshape(u.shape[0], -1, self.n_grad)

    def _step(self, u1: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        """``u₁ + G Dᵀ W τ`` for stresses ``τ`` of shape ``(B, n_q, c·d)``."""
        return u1 + spmv(self.Dt, (tau * self.w[:, None]).reshape(tau.shape[0], -1)) @ self.inverse.T


class PicardProcessor(_QuadratureIteration):
    """``steps`` learned Picard iterations on the vector space ``V`` with the linear elastic operator
    ``form`` (an :class:`~spon.fem.forms.ElasticityForm`) and zero displacement where ``clamped``
    (a boolean mask over the flat DOFs)."""

    def __init__(self, V, form: ElasticityForm, clamped, steps: int = 2, width: int = 64, depth: int = 3,
                 quadrature_degree=None):
        super().__init__()
        if not isinstance(form, ElasticityForm):
            raise TypeError(f"form: expected an ElasticityForm, got {type(form).__name__}")
        if len(V.value_shape) != 1:
            raise ValueError(f"V: expected a vector space, got value shape {V.value_shape}")
        if not (isinstance(steps, int) and steps >= 1):
            raise ValueError(f"steps: expected a positive number of iterations, got {steps!r}")
        self._assemble(V, assembly.green_matrix(V, form, clamped, source="load"), quadrature_degree)
        self.register_buffer("strain_scale", torch.ones((), dtype=torch.float64))
        self.form = form
        self.hparams = {"steps": steps, "width": width, "depth": depth, "quadrature_degree": quadrature_degree}
        # step 0 reads ∇u₁, later steps ∇u_k and ∇u₁
        self.stress = nn.ModuleList(_mlp(self.n_grad * (1 + (k > 0)), width, depth, self.n_grad)
                                    for k in range(steps))

    def scale_statistics(self, u1: torch.Tensor) -> torch.Tensor:
        """What :meth:`~spon.models.SPON.fit_scales` sums over the training inputs: count and Σ|∇u₁|²."""
        g = self.gradients(u1).double()
        return torch.stack([torch.tensor(float(g.numel())), g.pow(2).sum().cpu()])

    def set_scales(self, stats: torch.Tensor) -> None:
        self.strain_scale.fill_((stats[1] / stats[0].clamp_min(1)).sqrt().clamp_min(1e-30).item())

    def forward(self, u1: torch.Tensor) -> torch.Tensor:
        s = self.strain_scale.to(u1.dtype)
        g1 = self.gradients(u1) / s
        u, g = u1, g1
        for k, net in enumerate(self.stress):
            tau = net(g if k == 0 else torch.cat([g, g1], -1)) * (self.form.mu * s)
            u = self._step(u1, tau)
            if k + 1 < len(self.stress):
                g = self.gradients(u) / s
        return u


class CoefficientPicardProcessor(_QuadratureIteration):
    """A learned polynomial iteration for ``−div(κ ∇u) = f`` with ``u = 0`` where ``clamped``: κ in, u out.

    ``V`` is the scalar output space, ``U`` the coefficient's space (its DOFs are the input, the
    ``coefficients`` encoder), ``f`` the constant ``forcing``. With ``A₀`` the Laplace stiffness (exact
    inverse, assembled once), ``u₁ = A₀⁻¹ b`` and ``κ_q`` the coefficient at the quadrature points,

        u_{k+1} = u₁ + A₀⁻¹ Dᵀ W τ_k,    τ_k = a_k ∇u_k + c_k κ_q ∇u_k + e_k ∇u₁ + MLP_k(κ_q, ∇u_k, ∇u₁),

    and ``a_k, c_k, e_k`` start as the Chebyshev iteration for ``κ ∈ bounds`` from
    ``u₀ = 2 u₁ / (low + high)`` (so the untrained model is ``steps`` Chebyshev steps preconditioned by the Laplacian, no learning) and
    the MLPs at zero.
    Training makes the steps adapt to where κ is high or low, point by point.
    """

    reads_input_space = True     # κ at the quadrature points, from its own DOFs

    def __init__(self, U, V, clamped, bounds, forcing: float = 1.0, steps: int = 4, width: int = 64,
                 depth: int = 2):
        super().__init__()
        import firedrake as fd
        import numpy as np

        if V.value_shape != ():
            raise ValueError(f"V: expected a scalar output space, got value shape {V.value_shape}")
        if not (isinstance(steps, int) and steps >= 1):
            raise ValueError(f"steps: expected a positive number of iterations, got {steps!r}")
        lo, hi = (float(b) for b in bounds)
        if not 0 < lo < hi:
            raise ValueError(f"bounds: expected 0 < low < high for the coefficient, got {bounds!r}")
        A0inv = assembly.green_matrix(V, lambda u, v: fd.inner(fd.grad(u), fd.grad(v)) * fd.dx, clamped,
                                      source="load")
        self._assemble(V, A0inv)
        self.register_exact_buffer("I", assembly.quadrature_values(U, V).coalesce())
        b = fd.assemble(fd.Constant(float(forcing)) * fd.TestFunction(V) * fd.dx)
        u1 = A0inv @ torch.as_tensor(b.dat.data_ro.copy())
        g1 = self.gradients(u1[None])[0]
        self.grad_scale = float(g1.pow(2).mean().sqrt().clamp_min(1e-30))
        self.register_exact_buffer("u1", u1)
        self.register_exact_buffer("g1", g1 / self.grad_scale)     # ∇u₁ / s: the same for every sample
        self.hparams = {"bounds": [lo, hi], "forcing": float(forcing), "steps": steps, "width": width,
                        "depth": depth}
        roots = [0.5 * (hi + lo) + 0.5 * (hi - lo) * np.cos(np.pi * (2 * j + 1) / (2 * steps)) for j in range(steps)]
        om = torch.tensor([1.0 / r for r in roots], dtype=torch.float64)
        # τ_k = ∇u_k − ω_k κ ∇u_k − (1 − ω_k) ∇u₁ is the step u_k + ω_k A₀⁻¹ (b − A(κ) u_k)
        self.linear = nn.Parameter(torch.stack([torch.ones_like(om), -om * hi, -(1 - om)], dim=1))
        self.stress = nn.ModuleList(_mlp(3 * self.n_grad + 1, width, depth, self.n_grad) for _ in range(steps))

    def forward(self, kappa: torch.Tensor) -> torch.Tensor:
        B, s = kappa.shape[0], self.grad_scale
        lo, hi = self.hparams["bounds"]
        kq = spmv(self.I, kappa)[..., None] / hi            # (B, n_q, 1), at most 1
        g1 = self.g1.expand(B, -1, -1)
        g = g1 * (2 / (lo + hi))       # u₀: the Laplace solution scaled to the middle of the bounds
        for k, net in enumerate(self.stress):
            a, c, e = self.linear[k]
            tau = a * g + c * kq * g + e * g1 + net(torch.cat([g, g1, kq * g, kq], -1))
            u = self._step(self.u1, tau * s)
            if k + 1 < len(self.stress):
                g = self.gradients(u) / s
        return u

    def scale_statistics(self, kappa: torch.Tensor) -> torch.Tensor:
        return torch.zeros(2, dtype=torch.float64)

    def set_scales(self, stats: torch.Tensor) -> None:
        """Nothing to fit: the iteration's scales come from ``bounds`` and the Laplace solve."""
