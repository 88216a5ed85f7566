"""Frame-invariant kinematics of finite-strain surrogates, and cell-problem snapshots at stretches.

A homogenised hyperelastic response is objective: ``P̄(Q F̄) = Q P̄(F̄)`` for every
rotation ``Q``. With the polar decomposition ``F̄ = R̄ Ū`` this is
``P̄(F̄) = R̄ P̄(Ū)``: the response is fixed by its values at symmetric stretches
``Ū = (F̄ᵀF̄)^{1/2}``, a function of the right Cauchy–Green tensor only. The
surrogates here learn ``P̄(Ū)`` from the ``d(d+1)/2`` components of ``Ū − I`` and
rotate the result, so objectivity holds by construction, to round-off.

``R̄`` comes in closed form in 2D (a rotation by ``atan2(F₂₁ − F₁₂, F₁₁ + F₂₂)``) and from the scaled
Newton iteration ``R ← (γR + R⁻ᵀ/γ)/2`` (Higham) in 3D: smooth functions of ``F̄`` that autodiff
differentiates (no eigen-decomposition, so no trouble at repeated stretches such as ``F̄ = I``).

Examples
--------
>>> import torch
>>> F = torch.tensor([[[1.2, 0.3], [-0.1, 0.9]]], dtype=torch.float64)
>>> R, U = polar(F)
>>> bool(torch.allclose(R @ U, F)) and bool(torch.allclose(U, U.transpose(1, 2)))
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["polar", "sym_index", "admissible", "sample_stretches", "stretch_components", "stretch_from_components", "StretchQuadrature",
           "StretchSnapshots", "collect_stretch_snapshots"]


def sym_index(d: int):
    """Index pairs of the independent components of a symmetric ``d × d`` tensor."""
    return [(0, 0), (1, 1), (0, 1)] if d == 2 else [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


def polar(F: torch.Tensor, iterations: int = 8):
    """``(R, U)`` with ``F = R U``, ``R`` a rotation and ``U`` symmetric positive definite, for
    ``F`` of shape ``(..., d, d)`` with ``det F > 0``. In 2D ``R`` is the rotation by
    ``θ = atan2(F₂₁ − F₁₂, F₁₁ + F₂₂)`` (closed form); in 3D the scaled Newton iteration, which reaches
    round-off within 5 iterations for stretches in the surrogates' range."""
    if F.shape[-1] == 2:
        th = torch.atan2(F[..., 1, 0] - F[..., 0, 1], F[..., 0, 0] + F[..., 1, 1])
        c, s = torch.cos(th), torch.sin(th)
        R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
        U = R.transpose(-2, -1) @ F
        return R, 0.5 * (U + U.transpose(-2, -1))
    R = F
    for _ in range(iterations):
        Rit = torch.linalg.inv(R).transpose(-2, -1)
        g = torch.sqrt(torch.linalg.matrix_norm(Rit) / torch.linalg.matrix_norm(R))[..., None, None]
        R = 0.5 * (g * R + Rit / g)
    U = R.transpose(-2, -1) @ F
    return R, 0.5 * (U + U.transpose(-2, -1))


def stretch_components(U: torch.Tensor) -> torch.Tensor:
    """The ``d(d+1)/2`` components of ``U − I`` (``(..., d, d)`` → ``(..., n)``)."""
    d = U.shape[-1]
    return torch.stack([U[..., i, j] - (1.0 if i == j else 0.0) for i, j in sym_index(d)], dim=-1)


def stretch_from_components(x: torch.Tensor) -> torch.Tensor:
    """The symmetric stretch ``U = I + Σ x_k (e_i ⊗ e_j)_sym`` of components ``(..., n)``."""
    n = x.shape[-1]
    d = {3: 2, 6: 3}.get(n)
    if d is None:
        raise ValueError(f"x: expected 3 (2D) or 6 (3D) stretch components, got {n}")
    rows = [[None] * d for _ in range(d)]
    for k, (i, j) in enumerate(sym_index(d)):
        rows[i][j] = rows[j][i] = x[..., k] + (1.0 if i == j else 0.0)
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def admissible(x: torch.Tensor, box: float, stretch_min: float) -> torch.Tensor:
    """``|x_k| ≤ box`` and every principal stretch of ``U(x)`` ``≥ stretch_min``, per row: the stretches a
    surrogate is trained on. (Strong compression of a stiff-fibre cell buckles its matrix ligaments: the
    cell problem loses its unique solution there, so no surrogate should be asked about it.)"""
    return ((x.abs() <= box * (1 + 1e-9)).all(-1)
            & (torch.linalg.eigvalsh(stretch_from_components(x))[..., 0] >= stretch_min))


def sample_stretches(n: int, box: float, stretch_min: float, d: int, seed: int = 0, small_fraction: float = 0.0):
    """``n`` admissible stretch components ``(n, d(d+1)/2)``: a Latin hypercube in the box, thinned to the
    admissible set; ``small_fraction`` of them scaled by ``U(0, 1)²`` towards ``Ū = I``."""
    from .snapshots import latin_hypercube
    k = 3 if d == 2 else 6
    rng = np.random.default_rng(seed)
    out, m = np.zeros((0, k)), 2 * n
    while len(out) < n:
        x = latin_hypercube(m, box, dim=k, seed=int(rng.integers(2**31)))
        x[: int(round(small_fraction * m))] *= rng.random((int(round(small_fraction * m)), 1)) ** 2
        x = x[admissible(torch.as_tensor(x), box, stretch_min).numpy()]
        out, m = np.concatenate([out, x]), 2 * m
    return out[rng.permutation(len(out))[:n]]


class StretchQuadrature:
    """Quadrature points of a :class:`~spon.multiscale.FiniteStrainRVEProblem`: weights, phase ids,
    the DOF-to-gradient matrix ``D`` (:func:`spon.fem.assembly.quadrature_gradient`, the cell
    problem's own degree) and sampling of tensor fields in the same point order."""

    def __init__(self, rve):
        import firedrake as fd

        from ..fem.assembly import _quadrature_element, quadrature_gradient
        self.rve, self.d = rve, rve.d
        D, w = quadrature_gradient(rve.V, rve.qdeg)
        self.D, self.weights = D, w.numpy()
        Qe, _ = _quadrature_element(rve.V, rve.qdeg)
        self.Qs = fd.FunctionSpace(rve.mesh, Qe)
        self.Qt = fd.TensorFunctionSpace(rve.mesh, Qe, shape=(rve.d, rve.d))
        self.phase = np.zeros(self.Qs.dim(), dtype=np.int64)
        for pid, chi in rve.chi.items():
            self.phase[fd.Function(self.Qs).interpolate(chi).dat.data_ro > 0.5] = pid
        self._f = fd.Function(self.Qt)

    def tensor(self, expr) -> np.ndarray:
        """A tensor expression at the points, ``(n_q, d, d)``."""
        return self._f.interpolate(expr).dat.data_ro.reshape(-1, self.d, self.d).copy()

    def gradient(self, dofs: np.ndarray) -> np.ndarray:
        """``∇w`` at the points of a vector field given by its DOFs, ``(n_q, d, d)``."""
        from ..fem.sparse import spmv
        g = spmv(self.D, torch.as_tensor(np.asarray(dofs).reshape(1, -1)))
        return g.reshape(-1, self.d, self.d).numpy()

    def residual(self, P: np.ndarray) -> np.ndarray:
        """``∫ P : ∇v`` for every basis function ``v`` (``Dᵀ W P``): zero for an equilibrated field."""
        from ..fem.sparse import spmv
        wP = torch.as_tensor(self.weights[:, None, None] * P).reshape(1, -1)
        return spmv(self.D.t().coalesce() if self.D.is_sparse else self.D.t(), wP)[0].numpy()


@dataclass
class StretchSnapshots:
    x: np.ndarray          # (S, n) stretch components of Ū − I
    F: np.ndarray          # (S, d, d) the macro deformation gradients solved (Ū)
    w: np.ndarray          # (S, ndof·d) fluctuation DOFs (zero mean)
    grad_w: np.ndarray     # (S, n_q, d, d) ∇w at the quadrature points
    P_q: np.ndarray        # (S, n_q, d, d) micro first Piola–Kirchhoff stress (equilibrated)
    P: np.ndarray          # (S, d, d) P̄
    A: np.ndarray          # (S, d, d, d, d) ∂P̄/∂F̄
    seconds: float = 0.0

    def __len__(self):
        return len(self.x)


def collect_stretch_snapshots(rve, quad: StretchQuadrature, x: np.ndarray, progress: bool = True):
    """Solve the cell problem at the stretches ``Ū = I + x`` (components, ``(S, n)``), each by
    continuation from the nearest stretch solved before it, and sample the fields."""
    import time

    from tqdm.auto import tqdm
    x = np.asarray(x, dtype=float)
    U = stretch_from_components(torch.as_tensor(x)).numpy()
    out = {k: [] for k in ("w", "grad_w", "P_q", "P", "A")}
    done, raws = [], {}
    t0 = time.perf_counter()
    for k in tqdm(range(len(x)), desc="cell problems at finite strain", disable=not progress):
        init = None
        if done:
            j = done[int(np.argmin([np.abs(x[i] - x[k]).max() for i in done]))]
            if np.abs(x[j] - x[k]).max() < np.abs(x[k]).max():
                init = (U[j], raws[j])
        sol = rve.solve(U[k], initial=init)
        raws[k] = sol.raw
        done.append(k)
        w = sol.fluctuation.dat.data_ro.reshape(-1).copy()
        out["w"].append(w)
        out["grad_w"].append(quad.gradient(w))
        rve.Fbar.assign(U[k])
        rve.u.dat.data[:] = sol.raw
        out["P_q"].append(quad.tensor(rve.P))
        out["P"].append(sol.stress)
        out["A"].append(sol.tangent)
    return StretchSnapshots(x, U, *(np.array(out[k]) for k in ("w", "grad_w", "P_q", "P", "A")),
                            seconds=time.perf_counter() - t0)
