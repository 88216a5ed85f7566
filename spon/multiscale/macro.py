"""Macroscale plane-strain solver whose constitutive response lives at quadrature points.

The stress ``σ̄`` (Voigt, ``(N, 3)``) and tangent ``C̄`` (``(N, 3, 3)``) at the
``N`` quadrature points are Firedrake Functions on quadrature spaces, filled by a
pluggable :class:`QuadratureMaterial` from the strains at those points. Newton's
method (displacement control) then assembles

    R(v) = ∫ σ̄ · ε(v) dx,        J(δu, v) = ∫ (C̄ ε(δu)) · ε(v) dx,

with Voigt strains ``ε = (ε_xx, ε_yy, γ_xy)``. Materials:

* :class:`LawMaterial` — a pointwise torch law (single-scale reference);
* :class:`FE2Material` — one cell problem per quadrature point and Newton
  iteration (reference FE²), split over ``firedrake.Ensemble`` members;
* :class:`SurrogateMaterial` — one batched torch call for all points (EquiNO, MLP).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .materials import Material
from .micro import check_strain
from .voigt import voigt_strain_of, voigt_tangent

__all__ = ["check_boundary_ids", "PointMaterial", "QuadratureMaterial", "LawMaterial", "SurrogateMaterial", "FE2Material",
           "MacroProblem", "LoadStep"]


class PointMaterial:
    """A response evaluated at all quadrature points at once: ``evaluate`` maps the points' kinematics to
    ``(stress, tangent)``; ``commit`` after each converged load step; ``stats`` for reports."""

    def evaluate(self, x: np.ndarray):
        raise NotImplementedError

    def commit(self):
        """Called after each converged load step (state for warm starts)."""

    def stats(self) -> dict:
        return {}


class QuadratureMaterial(PointMaterial):
    """Maps strains at quadrature points ``(N, 3)`` to ``(σ̄ (N, 3), C̄ (N, 3, 3))``."""


class LawMaterial(QuadratureMaterial):
    """A :class:`~spon.multiscale.Material`'s torch law, pointwise."""

    def __init__(self, material: Material):
        if not isinstance(material, Material):
            raise TypeError(f"material: expected a spon.multiscale.Material, got {type(material).__name__}")
        self.material = material

    def evaluate(self, strain):
        E = torch.as_tensor(strain, dtype=torch.float64)
        with torch.no_grad():
            s = self.material.stress_voigt(E)
        return s.numpy(), voigt_tangent(self.material, E).detach().numpy()


class SurrogateMaterial(QuadratureMaterial):
    """A trained :class:`~spon.multiscale.Surrogate`: all points in one batched call."""

    def __init__(self, surrogate, strict: bool = True):
        from .surrogate import Surrogate
        if not isinstance(surrogate, Surrogate):
            raise TypeError(f"surrogate: expected a spon.multiscale.Surrogate, got {type(surrogate).__name__}")
        self.surrogate, self.strict = surrogate.eval(), strict
        self.calls, self.seconds = 0, 0.0

    def evaluate(self, strain):
        t0 = time.perf_counter()
        E = torch.as_tensor(strain, dtype=self.surrogate.box.dtype, device=self.surrogate.box.device)
        s, C = self.surrogate.stress_and_tangent(E, strict=self.strict)
        out = s.detach().cpu().numpy(), C.detach().cpu().numpy()
        self.calls += 1
        self.seconds += time.perf_counter() - t0
        return out

    def stats(self):
        return {"material_calls": self.calls, "material_seconds": self.seconds}


class CellSolves:
    """Reference FE²'s loop, shared by the small- and finite-strain materials: one cell problem per point,
    warm-started from the point's last converged state, a contiguous share of the points per
    ``firedrake.Ensemble`` member, gathered over ``ensemble.ensemble_comm``. Subclasses say how a batch is
    checked (``_check``), what the outputs' shapes are (``_shapes``) and how one point is solved (``_solve``)."""

    def __init__(self, rve, ensemble=None, warm_start: bool = True, progress: bool = False):
        self.rve, self.ensemble, self.warm = rve, ensemble, warm_start
        self.progress = progress
        self.state, self.trial = {}, {}
        self.solves = self.micro_iterations = 0
        self.seconds = 0.0

    def _share(self, n):
        if self.ensemble is None:
            return 0, n
        from ..ensemble import member_range
        return member_range(n, self.ensemble.ensemble_comm.size, self.ensemble.ensemble_comm.rank)

    def evaluate(self, x):
        from tqdm.auto import tqdm
        t0 = time.perf_counter()
        x = self._check(x)
        lo, hi = self._share(len(x))
        outs = [np.zeros(shape) for shape in self._shapes(len(x))]
        for q in tqdm(range(lo, hi), desc="micro solves", disable=not self.progress, leave=False):
            sol = self._solve(x[q], self.state.get(q) if self.warm else None)
            outs[0][q], outs[1][q] = sol.stress, sol.tangent
            self.trial[q] = self._state(x[q], sol)
            self.solves += 1
            self.micro_iterations += sol.iterations
        if self.ensemble is not None:
            from mpi4py import MPI
            for o in outs:
                self.ensemble.ensemble_comm.Allreduce(MPI.IN_PLACE, o, op=MPI.SUM)
        self.seconds += time.perf_counter() - t0
        return tuple(outs)

    def _solve(self, x, state):
        return self.rve.solve(x, initial=state)

    def commit(self):
        self.state.update(self.trial)

    def stats(self):
        return {"micro_solves": self.solves, "micro_newton_iterations": self.micro_iterations,
                "material_seconds": self.seconds}


class FE2Material(CellSolves, QuadratureMaterial):
    """Reference FE²: one :class:`~spon.multiscale.RVEProblem` solve per point.

    With ``ensemble`` (a :class:`firedrake.Ensemble`), each member solves a
    contiguous share of the points on its own communicator and the results are
    gathered over ``ensemble.ensemble_comm``; the RVE must live on ``ensemble.comm``.
    Converged fluctuations of the last load step warm-start the next solves.
    """

    def _check(self, strain):
        return check_strain(strain, "strain", batched=True)

    def _shapes(self, n):
        return (n, 3), (n, 3, 3)

    def _state(self, x, sol):
        return sol.raw


def check_boundary_ids(mesh, **ids):
    """Raise unless every ``name=id`` is a boundary id (exterior facet marker) of ``mesh``."""
    have = set(mesh.exterior_facets.unique_markers)
    for name, m in ids.items():
        if m not in have:
            raise ValueError(f"{name}: boundary id {m!r} is not on the mesh (ids: {sorted(int(i) for i in have)})")


class LoadPath:
    """Displacement control shared by :class:`MacroProblem` and the DNS: ``step(d)`` per load,
    ``solve`` over a path, and the reaction on the loaded edge (needs ``F``, ``loaded_nodes``,
    ``direction``, ``history``)."""

    _path_desc = "load steps"

    def reaction(self) -> float:
        """Sum of internal nodal forces on the loaded edge, in the loading direction."""
        import firedrake as fd
        f = fd.assemble(self.F)
        return float(f.dat.data_ro[self.loaded_nodes, self.direction].sum())

    def solve(self, displacements, progress: bool = True):
        """Run a load path; returns the :class:`LoadStep` history."""
        from tqdm.auto import tqdm
        d = np.asarray(displacements, dtype=float)
        if d.ndim != 1 or not np.all(np.isfinite(d)):
            raise ValueError("displacements: expected a finite 1D sequence of edge displacements")
        bar = tqdm(d, desc=self._path_desc, disable=not progress)
        for x in bar:
            st = self.step(float(x))
            bar.set_postfix(newton=len(st.residuals), reaction=f"{st.reaction:.4g}")
        return self.history


@dataclass
class LoadStep:
    displacement: float
    reaction: float
    residuals: list = field(default_factory=list)
    seconds: float = 0.0


class MacroProblem(LoadPath):
    """Displacement-controlled plane-strain Newton solver on a 2D mesh.

    Parameters
    ----------
    mesh : firedrake mesh with boundary ids ``clamped`` (u = 0) and ``loaded``
        (``u[direction]`` prescribed, the other component free).
    material : QuadratureMaterial
    degree : Lagrange degree of the displacement (default 2).
    quadrature_degree : fixed quadrature degree (default ``2 (degree - 1)``).
    """

    def __init__(self, mesh, material: QuadratureMaterial, *, clamped=1, loaded=2, direction: int = 1,
                 degree: int = 2, quadrature_degree: int | None = None, rtol: float = 1e-9,
                 atol: float = 1e-10, max_it: int = 20):
        import firedrake as fd
        import ufl

        if not isinstance(material, QuadratureMaterial):
            raise TypeError(f"material: expected a QuadratureMaterial, got {type(material).__name__}")
        if not isinstance(mesh, fd.MeshGeometry) or mesh.geometric_dimension != 2:
            raise TypeError(f"mesh: expected a 2D firedrake mesh, got {type(mesh).__name__}")
        check_boundary_ids(mesh, clamped=clamped, loaded=loaded)
        if direction not in (0, 1):
            raise ValueError(f"direction: expected 0 (x) or 1 (y), got {direction!r}")
        self.mesh, self.material, self.direction = mesh, material, direction
        self.qdeg = quadrature_degree if quadrature_degree is not None else max(1, 2 * (degree - 1))
        self.dx = fd.dx(domain=mesh, degree=self.qdeg)
        self.rtol, self.atol, self.max_it = rtol, atol, max_it
        self.V = fd.VectorFunctionSpace(mesh, "CG", degree)
        Q3 = fd.VectorFunctionSpace(mesh, "Quadrature", self.qdeg, quad_scheme="default", dim=3)
        Q33 = fd.TensorFunctionSpace(mesh, "Quadrature", self.qdeg, quad_scheme="default", shape=(3, 3))
        self.Q3 = Q3
        self.u = fd.Function(self.V, name="displacement")
        self.stress = fd.Function(Q3, name="stress")
        self.tangent = fd.Function(Q33, name="tangent")
        self._strain_q = fd.Function(Q3, name="strain")
        v, du = fd.TestFunction(self.V), fd.TrialFunction(self.V)
        self._strain_expr = voigt_strain_of(self.u)
        self.F = ufl.dot(self.stress, voigt_strain_of(v)) * self.dx
        self.J = ufl.dot(ufl.dot(self.tangent, voigt_strain_of(du)), voigt_strain_of(v)) * self.dx
        self._inc = fd.Constant(0.0)
        zero = fd.Constant((0.0, 0.0))
        self._bcs = [fd.DirichletBC(self.V, zero, clamped), fd.DirichletBC(self.V.sub(direction), self._inc, loaded)]
        self._hom = [fd.DirichletBC(self.V, zero, clamped), fd.DirichletBC(self.V.sub(direction), 0.0, loaded)]
        self.loaded_nodes = self._hom[1].nodes
        self.n_quadrature_points = Q3.dim() // 3
        self.displacement = 0.0
        self.history: list[LoadStep] = []
        self.strain_max = 0.0

    # ---------------------------------------------------------------- pieces
    def strains(self) -> np.ndarray:
        return self._strain_q.interpolate(self._strain_expr).dat.data_ro.copy()

    def _update_material(self):
        E = self.strains()
        self.strain_max = max(self.strain_max, float(np.abs(E).max()))
        s, C = self.material.evaluate(E)
        self.stress.dat.data[:] = s
        self.tangent.dat.data[:] = C

    _path_desc = "macro load steps"

    # ----------------------------------------------------------------- solve
    def step(self, displacement: float) -> LoadStep:
        """Newton for the prescribed edge displacement; the first iteration is the tangent predictor."""
        import firedrake as fd

        from ..fem.solve import lu_parameters
        t0 = time.perf_counter()
        du = fd.Function(self.V)
        res = []
        self._inc.assign(displacement - self.displacement)
        for it in range(self.max_it + 1):
            self._update_material()
            b = fd.assemble(-self.F, bcs=self._hom)
            r = float(np.linalg.norm(b.dat.data_ro))
            if it > 0:
                res.append(r)
                if r <= self.atol or r <= self.rtol * res[0]:
                    break
            elif r == 0 and displacement == self.displacement:
                res.append(r)
                break
            if it == self.max_it:
                raise RuntimeError(f"displacement: Newton did not converge at {displacement} in {self.max_it} "
                                   f"iterations (residuals {res})")
            # iteration 0 is the predictor: the matrix's BCs carry the increment on the loaded edge into du
            A = fd.assemble(self.J, bcs=self._bcs if it == 0 else self._hom, mat_type="aij")
            fd.solve(A, du, b, solver_parameters=lu_parameters())
            self.u += du
        self.displacement = displacement
        self.material.commit()
        st = LoadStep(displacement, self.reaction(), res, time.perf_counter() - t0)
        self.history.append(st)
        return st

    def stress_output(self, degree: int = 0):
        """σ̄ projected to DG (for VTK): ``(σ_xx, σ_yy, σ_xy)``."""
        import firedrake as fd
        W = fd.VectorFunctionSpace(self.mesh, "DG", degree, dim=3)
        out = fd.Function(W, name="stress")
        u, v = fd.TrialFunction(W), fd.TestFunction(W)
        fd.solve(fd.inner(u, v) * self.dx == fd.inner(self.stress, v) * self.dx, out)
        return out
