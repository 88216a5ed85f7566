"""Closed-form homogenised stiffness of a linear two-phase laminate.

Layers stacked along x (interfaces ``x = const``). Across an interface the
traction ``(σ_xx, σ_xy)`` and the tangential strain ``ε_yy`` are continuous;
``ε_xx`` and ``γ_xy`` jump. Averaging the phase laws under these constraints gives

    σ̄_a = ⟨C_aa⁻¹⟩⁻¹ (ε̄_a + ⟨C_aa⁻¹ C_ab⟩ ε̄_b),   a = (xx, xy), b = (yy),

and ``σ̄_b = ⟨C_ba ε_a + C_bb ε̄_b⟩`` with the phase strains ``ε_a`` recovered
from the continuous traction. Used to verify :class:`~spon.multiscale.RVEProblem`.

Examples
--------
>>> import numpy as np
>>> C = np.diag([2.0, 2.0, 1.0])
>>> np.allclose(laminate_stiffness(C, C, 0.3), C)
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["laminate_stiffness", "finite_strain_laminate"]


def laminate_stiffness(C1: np.ndarray, C2: np.ndarray, f2: float) -> np.ndarray:
    """Voigt (3×3) effective stiffness of phases ``C1`` (fraction ``1 - f2``) and ``C2`` (``f2``)."""
    if not 0 <= f2 <= 1:
        raise ValueError(f"f2: expected a volume fraction in [0, 1], got {f2}")
    a, b = [0, 2], [1]
    phases = [(np.asarray(C1, float), 1 - f2), (np.asarray(C2, float), f2)]
    for name, (C, _) in zip(("C1", "C2"), phases):
        if C.shape != (3, 3):
            raise ValueError(f"{name}: expected a 3x3 Voigt stiffness, got shape {C.shape}")
    inv = {i: np.linalg.inv(C[np.ix_(a, a)]) for i, (C, _) in enumerate(phases)}
    Ainv = sum(w * inv[i] for i, (_, w) in enumerate(phases))
    B = sum(w * inv[i] @ C[np.ix_(a, b)] for i, (C, w) in enumerate(phases))
    # σ̄_a = S (ε̄_a + B ε̄_b)  ⇒ columns of the a-rows
    S = np.linalg.inv(Ainv)
    Ceff = np.zeros((3, 3))
    Ceff[np.ix_(a, a)] = S
    Ceff[np.ix_(a, b)] = S @ B
    # phase strain ε_a = C_aa⁻¹ (σ̄_a - C_ab ε̄_b); σ_b = C_ba ε_a + C_bb ε̄_b
    for i, (C, w) in enumerate(phases):
        dEa_dEa = inv[i] @ S
        dEa_dEb = inv[i] @ (S @ B - C[np.ix_(a, b)])
        Ceff[np.ix_(b, a)] += w * C[np.ix_(b, a)] @ dEa_dEa
        Ceff[np.ix_(b, b)] += w * (C[np.ix_(b, a)] @ dEa_dEb + C[np.ix_(b, b)])
    return Ceff


def finite_strain_laminate(law1, law2, f2: float, F, normal=0, tol: float = 1e-13, max_it: int = 50):
    """``P̄`` of a two-phase hyperelastic laminate at the macro deformation gradient ``F`` (``d × d``).

    Layers normal to axis ``normal`` (``N = e_normal``): each phase deforms homogeneously with
    ``F₁ = F + f₂ c ⊗ N``, ``F₂ = F − f₁ c ⊗ N`` (rank-one connected, mean ``F``), and the jump
    ``c`` makes the traction continuous, ``P₁(F₁) N = P₂(F₂) N``: ``d`` equations solved by
    Newton's method in torch (exact Jacobian by autodiff). Returns ``(P̄, c)``;
    ``P̄ = f₁ P₁ + f₂ P₂``.
    """
    import torch
    if not 0 < f2 < 1:
        raise ValueError(f"f2: expected a volume fraction in (0, 1), got {f2}")
    F = torch.as_tensor(np.asarray(F, dtype=float))
    d = F.shape[0]
    N = torch.zeros(d, dtype=F.dtype)
    N[normal] = 1.0
    f1 = 1 - f2

    def phases(c):
        return F + f2 * torch.outer(c, N), F - f1 * torch.outer(c, N)

    def jump(c):
        F1, F2 = phases(c)
        return law1.stress_torch(F1[None], create_graph=True)[0] @ N - law2.stress_torch(F2[None],
                                                                                      create_graph=True)[0] @ N

    c = torch.zeros(d, dtype=F.dtype)
    for _ in range(max_it):
        r = jump(c)
        if r.abs().max() <= tol * (1 + law1.stress_torch(F[None])[0].abs().max()):
            break
        c = c - torch.linalg.solve(torch.func.jacrev(jump)(c), r)
    else:
        raise RuntimeError(f"F: the laminate's traction jump did not vanish in {max_it} Newton steps")
    F1, F2 = phases(c)
    P = f1 * law1.stress_torch(F1[None])[0] + f2 * law2.stress_torch(F2[None])[0]
    return P.detach().numpy(), c.detach().numpy()
