"""Macroscale finite-strain solver (total Lagrangian) with the response at quadrature points, 2D and 3D.

The deformation gradient ``F = I + ∇u`` at the quadrature points goes to a
:class:`FiniteStrainMaterial`, which returns the first Piola–Kirchhoff stress ``P``
``(N, d, d)`` and the tangent ``A = ∂P/∂F`` ``(N, d, d, d, d)``; they fill
Functions on quadrature spaces and Newton's method assembles

    R(v) = ∫ P : ∇v dX,        J(δu, v) = ∫ (A : ∇δu) : ∇v dX

under displacement control (``u = 0`` on ``clamped``, ``u[direction]`` prescribed on
``loaded``), the first iteration of each step being the tangent predictor. Materials:

* :class:`HyperelasticLawMaterial` — a phase law pointwise (single-scale reference);
* :class:`FiniteStrainFE2Material` — one :class:`~spon.multiscale.FiniteStrainRVEProblem` per
  point and Newton iteration (reference FE²), warm-started, split over ``firedrake.Ensemble`` members;
* :class:`StretchSurrogateMaterial` — one batched torch call (finite-strain EquiNO, the MLP).

Examples
--------
>>> import firedrake as fd
>>> mesh = fd.UnitSquareMesh(2, 2)
>>> macro = FiniteStrainMacroProblem(mesh, HyperelasticLawMaterial(NeoHookean(1.0, 1.0)), clamped=1, loaded=2,
...                                  direction=0)
>>> step = macro.step(0.2)
>>> len(step.residuals) < 8 and step.reaction > 0
True
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .cell import check_deformation_gradient
from .hyperelastic import HyperelasticLaw, NeoHookean  # noqa: F401  (NeoHookean: the docstring example)
from .macro import CellSolves, LoadPath, LoadStep, PointMaterial, check_boundary_ids

__all__ = ["FiniteStrainMaterial", "HyperelasticLawMaterial", "FiniteStrainFE2Material",
           "StretchSurrogateMaterial", "FiniteStrainMacroProblem"]


class FiniteStrainMaterial(PointMaterial):
    """Maps deformation gradients ``(N, d, d)`` to ``(P (N, d, d), A (N, d, d, d, d))``."""


class HyperelasticLawMaterial(FiniteStrainMaterial):
    """A :class:`~spon.multiscale.HyperelasticLaw` pointwise (its torch twin)."""

    def __init__(self, law: HyperelasticLaw):
        if not isinstance(law, HyperelasticLaw):
            raise TypeError(f"law: expected a spon.multiscale.HyperelasticLaw, got {type(law).__name__}")
        self.law = law

    def evaluate(self, F):
        Ft = torch.as_tensor(F, dtype=torch.float64)
        with torch.no_grad():
            P = self.law.stress_torch(Ft)
        return P.numpy(), self.law.tangent_torch(Ft).detach().numpy()


class StretchSurrogateMaterial(FiniteStrainMaterial):
    """A trained :class:`~spon.multiscale.stretch_equino.StretchSurrogate`: all points in one call."""

    def __init__(self, surrogate, strict: bool = True):
        from .stretch_equino import StretchSurrogate
        if not isinstance(surrogate, StretchSurrogate):
            raise TypeError(f"surrogate: expected a StretchSurrogate, got {type(surrogate).__name__}")
        self.surrogate, self.strict = surrogate.eval(), strict
        self.calls, self.seconds = 0, 0.0

    def evaluate(self, F):
        t0 = time.perf_counter()
        Ft = torch.as_tensor(F, dtype=self.surrogate.box.dtype, device=self.surrogate.box.device)
        P, A = self.surrogate.stress_and_tangent(Ft, strict=self.strict)
        out = P.detach().cpu().numpy(), A.detach().cpu().numpy()
        self.calls += 1
        self.seconds += time.perf_counter() - t0
        return out

    def stats(self):
        return {"material_calls": self.calls, "material_seconds": self.seconds}


class FiniteStrainFE2Material(CellSolves, FiniteStrainMaterial):
    """Reference FE² at finite strain: one cell problem per point, warm-started from the point's last
    converged state (continuation from there); with ``ensemble`` each member solves a contiguous share."""

    def _check(self, F):
        return check_deformation_gradient(F, self.rve.d, "F", batched=True)

    def _shapes(self, n):
        d = self.rve.d
        return (n, d, d), (n, d, d, d, d)

    def _state(self, F, sol):
        return (F.copy(), sol.raw)


class FiniteStrainMacroProblem(LoadPath):
    """Displacement-controlled total Lagrangian Newton solver on a 2D (plane strain) or 3D mesh.

    Parameters
    ----------
    mesh : firedrake mesh with boundary ids ``clamped`` (u = 0) and ``loaded`` (``u[direction]``
        prescribed, the other components free).
    material : FiniteStrainMaterial
    degree, quadrature_degree : Lagrange degree (default 2) and fixed quadrature degree
        (default ``2 (degree − 1)``).
    """

    _path_desc = "finite-strain load steps"

    def __init__(self, mesh, material: FiniteStrainMaterial, *, clamped=1, loaded=2, direction: int = 1,
                 degree: int = 2, quadrature_degree: int | None = None, rtol: float = 1e-9, atol: float = 1e-10,
                 max_it: int = 25):
        import firedrake as fd
        import ufl

        if not isinstance(material, FiniteStrainMaterial):
            raise TypeError(f"material: expected a FiniteStrainMaterial, got {type(material).__name__}")
        if not isinstance(mesh, fd.MeshGeometry) or mesh.geometric_dimension not in (2, 3):
            raise TypeError(f"mesh: expected a 2D or 3D firedrake mesh, got {type(mesh).__name__}")
        check_boundary_ids(mesh, clamped=clamped, loaded=loaded)
        d = self.d = mesh.geometric_dimension
        if direction not in range(d):
            raise ValueError(f"direction: expected an axis in 0..{d - 1}, got {direction!r}")
        self.mesh, self.material, self.direction = mesh, material, direction
        self.qdeg = quadrature_degree if quadrature_degree is not None else max(1, 2 * (degree - 1))
        self.dx = fd.dx(domain=mesh, degree=self.qdeg)
        self.rtol, self.atol, self.max_it = rtol, atol, max_it
        self.V = fd.VectorFunctionSpace(mesh, "CG", degree)
        Q2 = fd.TensorFunctionSpace(mesh, "Quadrature", self.qdeg, quad_scheme="default", shape=(d, d))
        Q4 = fd.TensorFunctionSpace(mesh, "Quadrature", self.qdeg, quad_scheme="default", shape=(d, d, d, d))
        self.u = fd.Function(self.V, name="displacement")
        self.stress = fd.Function(Q2, name="P")
        self.tangent = fd.Function(Q4, name="A")
        self._F_q = fd.Function(Q2, name="F")
        self._F_expr = ufl.Identity(d) + ufl.grad(self.u)
        v, du = fd.TestFunction(self.V), fd.TrialFunction(self.V)
        i, j, k, l = ufl.indices(4)
        self.F = ufl.inner(self.stress, ufl.grad(v)) * self.dx
        self.J = ufl.inner(ufl.as_tensor(self.tangent[i, j, k, l] * ufl.grad(du)[k, l], (i, j)), ufl.grad(v)) * self.dx
        self._inc = fd.Constant(0.0)
        zero = fd.Constant(np.zeros(d))
        self._bcs = [fd.DirichletBC(self.V, zero, clamped), fd.DirichletBC(self.V.sub(direction), self._inc, loaded)]
        self._hom = [fd.DirichletBC(self.V, zero, clamped), fd.DirichletBC(self.V.sub(direction), 0.0, loaded)]
        self.loaded_nodes = self._hom[1].nodes
        self.n_quadrature_points = Q2.dim() // (d * d)
        self.displacement = 0.0
        self.history: list[LoadStep] = []
        self.stretch_max = 0.0
        self.newton_iterations = 0

    def deformation_gradients(self) -> np.ndarray:
        return self._F_q.interpolate(self._F_expr).dat.data_ro.reshape(-1, self.d, self.d).copy()

    def _update_material(self):
        F = self.deformation_gradients()
        from .stretch import polar, stretch_components
        U = polar(torch.as_tensor(F))[1]
        self.stretch_max = max(self.stretch_max, float(stretch_components(U).abs().max()))
        P, A = self.material.evaluate(F)
        self.stress.dat.data[:] = P.reshape(self.stress.dat.data.shape)
        self.tangent.dat.data[:] = A.reshape(self.tangent.dat.data.shape)

    def step(self, displacement: float) -> LoadStep:
        """Newton for the prescribed displacement of the loaded boundary."""
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
            A = fd.assemble(self.J, bcs=self._bcs if it == 0 else self._hom, mat_type="aij")
            fd.solve(A, du, b, solver_parameters=lu_parameters())
            self.u += du
            self.newton_iterations += 1
        self.displacement = displacement
        self.material.commit()
        st = LoadStep(displacement, self.reaction(), res, time.perf_counter() - t0)
        self.history.append(st)
        return st

    def stress_output(self, degree: int = 0):
        """``P`` projected to DG tensors (for VTK)."""
        import firedrake as fd
        W = fd.TensorFunctionSpace(self.mesh, "DG", degree)
        out = fd.Function(W, name="P")
        u, v = fd.TrialFunction(W), fd.TestFunction(W)
        fd.solve(fd.inner(u, v) * self.dx == fd.inner(self.stress, v) * self.dx, out)
        return out
