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

__all__ = ["Material", "LinearElastic", "NonlinearElasticMatrix", "material_spec", "materials_from_spec"]

# keeps ‖dev ε‖ differentiable at ε = 0 (its derivative there is 0/0)
_SQRT_EPS = 1e-24


def _positive(name, value):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


class Material:
    """A small-strain material law ``σ(ε)`` (plane strain, 2×2 tensors).

    ``constant_tangent = True`` declares ``dσ/dε`` independent of ``ε`` (a linear law), so
    EquiNO's loss inverts it once instead of at every point.
    """

    constant_tangent = False

    def stress(self, eps):
        """The stress tensor (UFL, 2×2) for the strain tensor ``eps`` (UFL, 2×2)."""
        raise NotImplementedError

    def stress_voigt(self, strain: torch.Tensor) -> torch.Tensor:
        """Batched stress ``(..., 3)`` from Voigt strains ``(..., 3)`` (torch)."""
        raise NotImplementedError(f"{type(self).__name__} has no torch form; implement stress_voigt")

    def tangent_voigt(self, strain: torch.Tensor) -> torch.Tensor:
        """Batched ``dσ/dε`` ``(..., 3, 3)``; by default autodiff of :meth:`stress_voigt`."""
        flat = strain.reshape(-1, 3)
        C = torch.func.vmap(torch.func.jacrev(self.stress_voigt))(flat)
        return C.reshape(*strain.shape, 3)

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

    constant_tangent = True

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

    def tangent_voigt(self, strain):
        m = torch.tensor([1.0, 1.0, 0.0], dtype=strain.dtype, device=strain.device)
        C = self.K * torch.outer(m, m) + 2 * self.G * _dev_matrix(strain)
        return C.expand(*strain.shape, 3)


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

    def tangent_voigt(self, strain):
        # C = K m mᵀ + s D + s'(n) d (W d)ᵀ D / n,  d = D ε,  n² = dᵀ W d,  s = a / (b + n)
        _, dxx, dyy, dxy = _split(strain)
        d = torch.stack([dxx, dyy, dxy], dim=-1)
        n = torch.sqrt(dxx**2 + dyy**2 + 2 * dxy**2 + _SQRT_EPS)
        s = self.a / (self.b + n)
        ds = -self.a / (self.b + n) ** 2
        D = _dev_matrix(strain)
        Wd = d * torch.tensor([1.0, 1.0, 2.0], dtype=strain.dtype, device=strain.device)
        m = torch.tensor([1.0, 1.0, 0.0], dtype=strain.dtype, device=strain.device)
        return (self.K * torch.outer(m, m) + s[..., None, None] * D
                + (ds / n)[..., None, None] * d[..., :, None] * (Wd @ D)[..., None, :])


def _dev_matrix(strain):
    """``d(ε_xx − tr/3, ε_yy − tr/3, ε_xy)/dε`` in Voigt form (``γ = 2 ε_xy``)."""
    return torch.tensor([[2 / 3, -1 / 3, 0.0], [-1 / 3, 2 / 3, 0.0], [0.0, 0.0, 0.5]],
                        dtype=strain.dtype, device=strain.device)


def material_spec(materials):
    """``{id: [class, params]}``; a user's class is named ``module.Class`` so it can be imported back."""
    import sys

    here = sys.modules[__name__]

    def name(m):
        C = type(m)
        return C.__name__ if getattr(here, C.__name__, None) is C else f"{C.__module__}.{C.__qualname__}"
    return {int(k): [name(m), m.params()] for k, m in materials.items()}


def _material_class(cls):
    import importlib
    import sys

    C = getattr(sys.modules[__name__], cls, None)
    if C is None and "." in cls:
        mod, _, attr = cls.rpartition(".")
        try:
            C = getattr(importlib.import_module(mod), attr, None)
        except ImportError:
            C = None
    return C if isinstance(C, type) and issubclass(C, Material) else None


def materials_from_spec(spec, strict: bool = False):
    """Materials from :func:`material_spec`'s form. A class that cannot be imported gives ``None``
    (the caller passes ``materials=``), or with ``strict`` a ``ValueError`` naming it."""
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"materials: expected {{region id: [class name, {{parameters}}]}}, got {spec!r}")
    out = {}
    for k, entry in spec.items():
        try:
            cls, params = entry
            pid = int(k)
        except (TypeError, ValueError):
            raise ValueError(f"materials[{k!r}]: expected [class name, {{parameters}}] under an integer "
                             f"region id, got {entry!r}") from None
        C = _material_class(cls)
        if C is None:
            if not strict:
                return None    # a user material: the caller passes materials= on load
            raise ValueError(f"materials[{k}]: {cls!r} is neither a spon material "
                             "(LinearElastic, NonlinearElasticMatrix) nor an importable module.Class "
                             "subclassing spon.multiscale.Material")
        try:
            out[pid] = C(**params)
        except TypeError as e:
            raise ValueError(f"materials[{k}]: {cls}({params}) failed: {e}") from None
    return out
