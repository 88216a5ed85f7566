"""Hyperelastic phase laws for finite-strain cell problems, written once in UFL and once in torch.

A phase is a strain-energy density ``ψ(F)`` of the 3×3 deformation gradient. In
2D the law is plane strain: ``F`` is embedded as ``[[F, 0], [0, 1]]``. The FE side
differentiates the UFL energy (``P = ∂ψ/∂F``, ``A = ∂P/∂F``); the surrogate's
constitutive loss and the pointwise macro law differentiate the torch twin.
Both are tested equal at random ``F`` (``tests/test_finite_strain_cell.py``).

Every law also has its small-strain limit ``ψ₀(ε) = μ ε:ε + λ/2 (tr ε)²`` with the
law's initial shear and Lamé moduli, which the small-strain cell problem uses.

Examples
--------
>>> import torch
>>> law = NeoHookean(mu=1.0, lmbda=2.0)
>>> F = torch.eye(2, dtype=torch.float64)[None]
>>> float(law.energy_torch(F)[0]), float(law.stress_torch(F).abs().max())   # stress-free at rest
(0.0, 0.0)
"""
from __future__ import annotations

import math

import torch

__all__ = ["HyperelasticLaw", "NeoHookean", "MooneyRivlin", "UserHyperelastic", "SmallStrainMatrix", "embed3"]


def _positive(name, value, allow_zero=False):
    ok = isinstance(value, (int, float)) and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name}: expected a {'non-negative' if allow_zero else 'positive'} finite number, "
                         f"got {value!r}")
    return float(value)


def embed3(F):
    """The 3×3 plane-strain deformation gradient of a 2×2 one (UFL or torch ``(..., 2, 2)``); 3×3 unchanged."""
    if isinstance(F, torch.Tensor):
        if F.shape[-1] == 3:
            return F
        pad = torch.nn.functional.pad(F, (0, 1, 0, 1))    # out of place: vmap-safe
        e33 = torch.zeros(3, 3, dtype=F.dtype, device=F.device)
        e33[2, 2] = 1.0
        return pad + e33
    import ufl
    if ufl.shape(F)[0] == 3:
        return F
    return ufl.as_matrix([[F[0, 0], F[0, 1], 0], [F[1, 0], F[1, 1], 0], [0, 0, 1]])


def det3(F: torch.Tensor) -> torch.Tensor:
    """``det`` of ``(..., 3, 3)`` by the cofactor formula: a polynomial, so its derivatives of any
    order exist everywhere (``torch.linalg.det``'s second derivative under vmap is NaN at ``I``)."""
    a = F.unbind(-2)
    return (a[0] * torch.linalg.cross(a[1], a[2], dim=-1)).sum(-1)


class HyperelasticLaw:
    """A strain-energy density ``ψ(F)`` (3×3, plane strain in 2D); subclasses implement
    :meth:`_psi` once for any array-like with the helpers ``tr``, ``det``, ``ln``, ``matmul``."""

    #: initial shear modulus and Lamé constant (the small-strain limit)
    mu0: float
    lmbda0: float

    def energy(self, F):
        """UFL ``ψ(F)`` for a UFL ``d × d`` deformation gradient."""
        import ufl
        F3 = embed3(F)
        C = F3.T * F3
        return self._psi(ufl.tr(C), ufl.tr(C * C), ufl.ln(ufl.det(F3)))

    def energy_torch(self, F: torch.Tensor) -> torch.Tensor:
        """Batched ``ψ`` of ``F`` of shape ``(..., d, d)``."""
        F3 = embed3(F)
        C = F3.transpose(-2, -1) @ F3
        i1 = C.diagonal(dim1=-2, dim2=-1).sum(-1)
        return self._psi(i1, (C * C).sum((-2, -1)), torch.log(det3(F3)))

    def stress_torch(self, F: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """First Piola–Kirchhoff ``P = ∂ψ/∂F``, shape of ``F``."""
        with torch.enable_grad():
            Fg = F if F.requires_grad else F.detach().requires_grad_(True)
            (P,) = torch.autograd.grad(self.energy_torch(Fg).sum(), Fg, create_graph=create_graph or F.requires_grad)
        return P

    def tangent_torch(self, F: torch.Tensor) -> torch.Tensor:
        """``A = ∂P/∂F``, shape ``(..., d, d, d, d)``."""
        d = F.shape[-1]
        flat = F.reshape(-1, d, d)
        A = torch.func.vmap(torch.func.jacrev(torch.func.jacrev(lambda f: self.energy_torch(f))))(flat)
        return A.reshape(*F.shape, d, d)

    def small_strain_energy(self, eps):
        """UFL ``ψ₀(ε) = μ ε:ε + λ/2 (tr ε)²`` with the law's initial moduli."""
        import ufl
        return self.mu0 * ufl.inner(eps, eps) + self.lmbda0 / 2 * ufl.tr(eps) ** 2

    def small_strain_stress_torch(self, eps: torch.Tensor) -> torch.Tensor:
        d = eps.shape[-1]
        tr = eps.diagonal(dim1=-2, dim2=-1).sum(-1)
        return 2 * self.mu0 * eps + self.lmbda0 * tr[..., None, None] * torch.eye(d, dtype=eps.dtype,
                                                                                   device=eps.device)

    def params(self) -> dict:
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.params().items())})"


def _ln(x):
    return torch.log(x) if isinstance(x, torch.Tensor) else __import__("ufl").ln(x)


class NeoHookean(HyperelasticLaw):
    """Compressible neo-Hookean ``ψ = μ/2 (I₁ − 3 − 2 ln J) + λ/2 (ln J)²``."""

    def __init__(self, mu: float, lmbda: float):
        self.mu = self.mu0 = _positive("mu", mu)
        self.lmbda = self.lmbda0 = _positive("lmbda", lmbda, allow_zero=True)

    def params(self):
        return {"mu": self.mu, "lmbda": self.lmbda}

    def _psi(self, i1, trC2, lnJ):
        return self.mu / 2 * (i1 - 3 - 2 * lnJ) + self.lmbda / 2 * lnJ ** 2

    def stress_torch(self, F, create_graph=False):
        # P = μ (F − F⁻ᵀ) + λ ln J F⁻ᵀ (plane strain: the 2×2 block of the 3D law is the 2D formula)
        Finv_T = torch.linalg.inv(F).transpose(-2, -1)
        lnJ = torch.log(torch.linalg.det(F))[..., None, None]
        return self.mu * (F - Finv_T) + self.lmbda * lnJ * Finv_T


class MooneyRivlin(HyperelasticLaw):
    """Compressible Mooney–Rivlin ``ψ = c₁ (I₁ − 3 − 2 ln J) + c₂ (I₂ − 3 − 4 ln J) + λ/2 (ln J)²``
    (stress-free at ``F = I``; initial moduli ``μ = 2 (c₁ + c₂)``, ``λ₀ = λ + 4 c₂``)."""

    def __init__(self, c1: float, c2: float, lmbda: float):
        self.c1, self.c2 = _positive("c1", c1), _positive("c2", c2, allow_zero=True)
        self.lmbda = _positive("lmbda", lmbda, allow_zero=True)
        self.mu0, self.lmbda0 = 2 * (self.c1 + self.c2), self.lmbda + 4 * self.c2   # the linearisation at F = I

    def params(self):
        return {"c1": self.c1, "c2": self.c2, "lmbda": self.lmbda}

    def _psi(self, i1, trC2, lnJ):
        i2 = (i1 ** 2 - trC2) / 2
        return (self.c1 * (i1 - 3 - 2 * lnJ) + self.c2 * (i2 - 3 - 4 * lnJ) + self.lmbda / 2 * lnJ ** 2)

    def stress_torch(self, F, create_graph=False):
        # P = 2c₁ F + 2c₂ (I₁ F − F C) − (2c₁ + 4c₂ − λ ln J) F⁻ᵀ; in 2D I₁ counts C₃₃ = 1
        d = F.shape[-1]
        C = F.transpose(-2, -1) @ F
        i1 = C.diagonal(dim1=-2, dim2=-1).sum(-1)[..., None, None] + (3 - d)
        Finv_T = torch.linalg.inv(F).transpose(-2, -1)
        lnJ = torch.log(torch.linalg.det(F))[..., None, None]
        return (2 * self.c1 * F + 2 * self.c2 * (i1 * F - F @ C)
                - (2 * self.c1 + 4 * self.c2 - self.lmbda * lnJ) * Finv_T)


class UserHyperelastic(HyperelasticLaw):
    """A user's energy ``psi(I₁, tr C², ln J)``, written once with ``+ - * / **`` and the module's
    ``log`` (``spon.multiscale.hyperelastic.log`` works on UFL and torch), and its initial moduli."""

    def __init__(self, psi, mu0: float, lmbda0: float, name: str = "user"):
        if not callable(psi):
            raise TypeError(f"psi: expected a callable psi(I1, trC2, lnJ), got {type(psi).__name__}")
        self.psi, self.name = psi, name
        self.mu0, self.lmbda0 = _positive("mu0", mu0), _positive("lmbda0", lmbda0, allow_zero=True)

    def params(self):
        return {"name": self.name, "mu0": self.mu0, "lmbda0": self.lmbda0}

    def _psi(self, i1, trC2, lnJ):
        return self.psi(i1, trC2, lnJ)


class SmallStrainMatrix(HyperelasticLaw):
    """EquiNO's nonlinear matrix at small strain in any dimension, ``σ = K tr ε I + dev ε · a / (b + |dev ε|)``
    (``dev`` with ``tr/3``: plane strain in 2D), from its potential
    ``ψ₀ = K/2 (tr ε)² + a (n − b ln(1 + n/b))``, ``n = |dev ε|``. Small strain only
    (``kinematics="small"``); defaults ``K = 4780``, ``a = 50``, ``b = 0.06`` (design.md)."""

    def __init__(self, K: float = 4780.0, a: float = 50.0, b: float = 0.06):
        self.K, self.a, self.b = _positive("K", K), _positive("a", a), _positive("b", b)
        self.mu0 = self.a / (2 * self.b)
        self.lmbda0 = self.K - 2 * self.mu0 / 3

    def params(self):
        return {"K": self.K, "a": self.a, "b": self.b}

    def _psi(self, i1, trC2, lnJ):
        raise NotImplementedError("SmallStrainMatrix is a small-strain law: use kinematics='small'")

    def small_strain_energy(self, eps):
        import ufl
        tr = ufl.tr(eps)
        dev = eps - tr / 3 * ufl.Identity(ufl.shape(eps)[0])
        n = ufl.sqrt(ufl.inner(dev, dev) + tr ** 2 / 9 * (3 - ufl.shape(eps)[0]) + 1e-24)
        return self.K / 2 * tr ** 2 + self.a * (n - self.b * ufl.ln(1 + n / self.b))

    def small_strain_stress_torch(self, eps):
        d = eps.shape[-1]
        tr = eps.diagonal(dim1=-2, dim2=-1).sum(-1)[..., None, None]
        I = torch.eye(d, dtype=eps.dtype, device=eps.device)
        dev = eps - tr / 3 * I
        # plane strain: the out-of-plane deviator −tr/3 counts in |dev ε| (as EquiNO's 2D law does not)
        n = torch.sqrt((dev * dev).sum((-2, -1)) + (tr[..., 0, 0] ** 2 / 9) * (3 - d) + 1e-24)[..., None, None]
        return self.K * tr * I + dev * (self.a / (self.b + n))


log = _ln
