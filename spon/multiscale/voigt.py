"""Voigt notation in one place: ``ε = (ε_xx, ε_yy, γ_xy)`` with ``γ_xy = 2 ε_xy``, ``σ = (σ_xx, σ_yy, σ_xy)``.

The energy pairing is ``σ : ε = Σ_c σ_c ε_c``; a norm of stresses (or of
strains as tensors) weighs the shear component twice (:data:`VOIGT_WEIGHTS`).

Examples
--------
>>> import numpy as np
>>> E = np.array([[0.1, 0.0], [0.0, 0.0]])
>>> float(np.sum(VOIGT_WEIGHTS * np.array([1.0, 2.0, 3.0]) ** 2))   # |(1, 2, 3)|² with the shear twice
23.0
"""
from __future__ import annotations

import numpy as np

__all__ = ["VOIGT_WEIGHTS", "voigt_strain", "voigt_strain_of", "voigt_stress", "voigt_tangent"]

VOIGT_WEIGHTS = np.array([1.0, 1.0, 2.0])


def voigt_strain(E):
    """The UFL 2×2 strain tensor of a Voigt strain ``(ε_xx, ε_yy, γ_xy)``."""
    import ufl
    return ufl.as_matrix([[E[0], E[2] / 2], [E[2] / 2, E[1]]])


def voigt_strain_of(u):
    """``(ε_xx, ε_yy, γ_xy)`` of a UFL displacement ``u``."""
    import ufl
    e = ufl.sym(ufl.grad(u))
    return ufl.as_vector([e[0, 0], e[1, 1], 2 * e[0, 1]])


def voigt_stress(s):
    """``(σ_xx, σ_yy, σ_xy)`` of a UFL 2×2 stress tensor."""
    import ufl
    return ufl.as_vector([s[0, 0], s[1, 1], s[0, 1]])


def voigt_tangent(material, strain):
    """``dσ/dε`` of a torch material law (:class:`~spon.multiscale.Material`) at strains ``(N, 3)``,
    shape ``(N, 3, 3)``."""
    return material.tangent_voigt(strain)
