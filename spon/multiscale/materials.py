"""Small-strain plane-strain materials, written once for UFL and once for torch.

Voigt convention throughout: strain ``(ε_xx, ε_yy, γ_xy)`` with ``γ_xy = 2 ε_xy``,
stress ``(σ_xx, σ_yy, σ_xy)``, so ``σ·ε`` is the work density and tangents
``dσ/dε`` are symmetric for hyperelastic laws.

A material is pluggable: subclass :class:`Material` and implement
:meth:`~Material.stress` (UFL, used by the micro and macro FE solvers; the
tangent comes from UFL differentiation) and, for EquiNO's constitutive loss and
pointwise use, :meth:`~Material.stress_voigt` (batched torch).

Examples
--------
>>> import torch
>>> fibre = LinearElastic(K=43452.38, G=29918.03)
>>> fibre.stress_voigt(torch.tensor([[0.0, 0.0, 1e-3]], dtype=torch.float64))
tensor([[ 0.0000,  0.0000, 29.9180]], dtype=torch.float64)
"""
from __future__ import annotations

import math

import torch

__all__ = ["Material", "LinearElastic", "NonlinearElasticMatrix", "voigt_tangent"]

# keeps ‖dev ε‖ differentiable at ε = 0 (its derivative there is 0/0)
_SQRT_EPS = 1e-24


def _positive(name, value):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


class Material:
    """A small-strain material law ``σ(ε)`` (plane strain, 2×2 tensors)."""

    def stress(self, eps):
        """The stress tensor (UFL, 2×2) for the strain tensor ``eps`` (UFL, 2×2)."""
        raise NotImplementedError

    def stress_voigt(self, strain: torch.Tensor) -> torch.Tensor:
        """Batched stress ``(..., 3)`` from Voigt strains ``(..., 3)`` (torch)."""
        raise NotImplementedError(f"{type(self).__name__} has no torch form; implement stress_voigt")

    def params(self) -> dict:
        return {}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.params().items())})"


def _split(strain):
    exx, eyy, gxy = strain.unbind(-1)
    tr = exx + eyy
    return tr, exx - tr / 3, eyy - tr / 3, gxy / 2


class LinearElastic(Material):
    """Isotropic linear elasticity, ``σ = K tr ε I + 2G dev ε`` (``dev`` with ``tr/3``, as EquiNO)."""

    def __init__(self, K: float, G: float):
        self.K, self.G = _positive("K", K), _positive("G", G)

    def params(self):
        return {"K": self.K, "G": self.G}

    def stress(self, eps):
        import ufl
        tr = ufl.tr(eps)
        return self.K * tr * ufl.Identity(2) + 2 * self.G * (eps - tr / 3 * ufl.Identity(2))

    def stress_voigt(self, strain):
        tr, dxx, dyy, dxy = _split(strain)
        return torch.stack([self.K * tr + 2 * self.G * dxx, self.K * tr + 2 * self.G * dyy,
                            2 * self.G * dxy], dim=-1)


class NonlinearElasticMatrix(Material):
    """EquiNO's matrix: ``σ = K tr ε I + dev ε · a / (b + ‖dev ε‖)``.

    Defaults ``K = 4780``, ``a = 50``, ``b = 0.06`` (design.md). ``‖·‖`` is the
    Frobenius norm of the in-plane deviator.
    """

    def __init__(self, K: float = 4780.0, a: float = 50.0, b: float = 0.06):
        self.K, self.a, self.b = _positive("K", K), _positive("a", a), _positive("b", b)

    def params(self):
        return {"K": self.K, "a": self.a, "b": self.b}

    def stress(self, eps):
        import ufl
        tr = ufl.tr(eps)
        dev = eps - tr / 3 * ufl.Identity(2)
        n = ufl.sqrt(ufl.inner(dev, dev) + _SQRT_EPS)
        return self.K * tr * ufl.Identity(2) + dev * (self.a / (self.b + n))

    def stress_voigt(self, strain):
        tr, dxx, dyy, dxy = _split(strain)
        s = self.a / (self.b + torch.sqrt(dxx**2 + dyy**2 + 2 * dxy**2 + _SQRT_EPS))
        return torch.stack([self.K * tr + s * dxx, self.K * tr + s * dyy, s * dxy], dim=-1)


def voigt_tangent(material: Material, strain: torch.Tensor) -> torch.Tensor:
    """``dσ/dε`` of a torch material law at strains ``(N, 3)``, shape ``(N, 3, 3)``."""
    f = lambda e: material.stress_voigt(e)  # noqa: E731
    return torch.func.vmap(torch.func.jacrev(f))(strain)
