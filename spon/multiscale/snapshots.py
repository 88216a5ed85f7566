"""Micro-solver snapshots at Latin-hypercube macro strains, sampled at quadrature points.

The quadrature points are those of the cell problem's forms (degree
``RVEProblem.qdeg``, Firedrake's default scheme), so ``Σ_q w_q f_q`` equals
Firedrake's ``assemble(f * dx)`` and the torch side integrates exactly as the FE side.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["latin_hypercube", "RVEQuadrature", "Snapshots", "collect_snapshots"]


def latin_hypercube(n: int, bound: float = 0.04, dim: int = 3, seed: int = 0) -> np.ndarray:
    """``n`` Latin-hypercube points in ``[-bound, bound]^dim`` (one per stratum and axis)."""
    if n < 1:
        raise ValueError(f"n: expected at least one sample, got {n}")
    rng = np.random.default_rng(seed)
    u = (np.stack([rng.permutation(n) for _ in range(dim)], axis=1) + rng.random((n, dim))) / n
    return bound * (2 * u - 1)


class RVEQuadrature:
    """Quadrature spaces, weights and phase ids of an :class:`~spon.multiscale.RVEProblem`."""

    def __init__(self, rve):
        import firedrake as fd
        self.rve = rve
        mesh, q = rve.mesh, rve.qdeg
        self.Q = fd.FunctionSpace(mesh, "Quadrature", q, quad_scheme="default")
        self.Q2 = fd.VectorFunctionSpace(mesh, "Quadrature", q, quad_scheme="default", dim=2)
        self.Q3 = fd.VectorFunctionSpace(mesh, "Quadrature", q, quad_scheme="default", dim=3)
        self.weights = fd.assemble(fd.TestFunction(self.Q) * rve.dx).dat.data_ro.copy()
        self.phase = np.zeros(self.Q.dim(), dtype=np.int64)
        for pid, chi in rve.chi.items():
            self.phase[fd.Function(self.Q).interpolate(chi).dat.data_ro > 0.5] = pid
        self._u = fd.Function(rve.V)
        self.x = self.sample(fd.SpatialCoordinate(mesh), self.Q2)

    def sample(self, expr, space):
        import firedrake as fd
        return fd.Function(space).interpolate(expr).dat.data_ro.copy()

    def strain_of(self, u_dofs: np.ndarray) -> np.ndarray:
        """Voigt strain ``ε(u)`` at the quadrature points of a displacement given by its DOFs."""
        from .voigt import voigt_strain_of
        self._u.dat.data[:] = u_dofs
        return self.sample(voigt_strain_of(self._u), self.Q3)

    def values_of(self, u_dofs: np.ndarray) -> np.ndarray:
        self._u.dat.data[:] = u_dofs
        return self.sample(self._u, self.Q2)


@dataclass
class Snapshots:
    strain: np.ndarray        # (S, 3)   macro strains
    u: np.ndarray             # (S, ndof, 2) fluctuation DOFs (zero mean)
    u_q: np.ndarray           # (S, Nq, 2) fluctuation at quadrature points
    stress_q: np.ndarray      # (S, Nq, 3) micro stress at quadrature points (equilibrated)
    stress: np.ndarray        # (S, 3)   σ̄
    tangent: np.ndarray       # (S, 3, 3) C̄
    seconds: float

    def __len__(self):
        return len(self.strain)


def collect_snapshots(rve, strains, quadrature: RVEQuadrature | None = None, progress: bool = True) -> Snapshots:
    """Solve the cell problem at each strain; keep fields at DOFs and quadrature points."""
    import time

    from tqdm.auto import tqdm

    from .micro import check_strain

    E = check_strain(strains, "strains", batched=True)
    quad = quadrature or RVEQuadrature(rve)
    out = {k: [] for k in ("u", "u_q", "stress_q", "stress", "tangent")}
    t0 = time.perf_counter()
    for e in tqdm(E, desc="micro snapshots", disable=not progress):
        sol = rve.solve(e)
        out["u"].append(sol.fluctuation.dat.data_ro.copy())
        out["u_q"].append(quad.sample(sol.fluctuation, quad.Q2))
        out["stress_q"].append(rve.stress_field(sol, quad.Q3).dat.data_ro.copy())
        out["stress"].append(sol.stress)
        out["tangent"].append(sol.tangent)
    return Snapshots(E, *(np.stack(out[k]) for k in ("u", "u_q", "stress_q", "stress", "tangent")),
                     seconds=time.perf_counter() - t0)
