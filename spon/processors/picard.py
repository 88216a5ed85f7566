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

__all__ = ["PicardProcessor"]


def _mlp(n_in, width, depth, n_out):
    layers, d = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.GELU()]
        d = width
    last = nn.Linear(d, n_out)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)     # the correction starts at zero: the model starts as linear elasticity
    return nn.Sequential(*layers, last)


class PicardProcessor(FEModule):
    """``steps`` learned Picard iterations on the vector space ``V`` with the linear elastic operator
    ``form`` (an :class:`~spon.fem.forms.ElasticityForm`) and zero displacement where ``clamped``
    (a boolean mask over the flat DOFs)."""

    physical_units = True
    starts_as_identity = True

    def __init__(self, V, form: ElasticityForm, clamped, steps: int = 2, width: int = 64, depth: int = 3,
                 quadrature_degree=None):
        super().__init__()
        if not isinstance(form, ElasticityForm):
            raise TypeError(f"form: expected an ElasticityForm, got {type(form).__name__}")
        if len(V.value_shape) != 1:
            raise ValueError(f"V: expected a vector space, got value shape {V.value_shape}")
        if not (isinstance(steps, int) and steps >= 1):
            raise ValueError(f"steps: expected a positive number of iterations, got {steps!r}")
        D, w = assembly.quadrature_gradient(V, quadrature_degree)
        self.register_exact_buffer("D", D.coalesce())
        self.register_exact_buffer("Dt", D.t().coalesce())
        self.register_exact_buffer("w", w)
        self.register_exact_buffer("Kinv", assembly.green_matrix(V, form, clamped, source="load"))
        self.register_buffer("strain_scale", torch.ones((), dtype=torch.float64))
        self.form, self.dim = form, V.dim()
        self.n_grad = int(V.value_shape[0]) * V.mesh().geometric_dimension
        self.hparams = {"steps": steps, "width": width, "depth": depth, "quadrature_degree": quadrature_degree}
        # step 0 reads ∇u₁, later steps ∇u_k and ∇u₁
        self.stress = nn.ModuleList(_mlp(self.n_grad * (1 + (k > 0)), width, depth, self.n_grad)
                                    for k in range(steps))

    def gradients(self, u: torch.Tensor) -> torch.Tensor:
        """``∇u`` at the quadrature points, ``(B, n_q, c·d)``."""
        return spmv(self.D, u).reshape(u.shape[0], -1, self.n_grad)

    def forward(self, u1: torch.Tensor) -> torch.Tensor:
        s = self.strain_scale.to(u1.dtype)
        g1 = self.gradients(u1) / s
        u, g = u1, g1
        for k, net in enumerate(self.stress):
            tau = net(g if k == 0 else torch.cat([g, g1], -1)) * (self.form.mu * s)
            load = spmv(self.Dt, (tau * self.w[:, None]).reshape(u1.shape[0], -1))
            u = u1 + load @ self.Kinv.T
            if k + 1 < len(self.stress):
                g = self.gradients(u) / s
        return u
