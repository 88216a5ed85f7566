"""Compressible neo-Hookean hyperelasticity (plane strain): random body force -> displacement.

The SPON paper's third problem. With ``F = I + ∇u``, ``J = det F`` and
``I_C = tr(FᵀF)`` (in plane; the out-of-plane stretch is 1), the stored energy

    ψ(F) = μ/2 (I_C − 2 − 2 ln J) + λ/2 (ln J)²

is minimised with the body-force work: find ``u`` with ``u = 0`` on the clamped
boundary and ``∫ P(F) : ∇v − f·v = 0`` for all admissible ``v``,
``P = ∂ψ/∂F``. Newton's method (PETSc SNES, LU, backtracking line search) with
load stepping solves it: ``f`` is applied in ``steps`` equal increments, each
warm-started from the last; an increment that fails is halved.
"""
from __future__ import annotations

import firedrake as fd
import torch
import ufl

from ..fem.solve import lu_parameters
from ..mesh.spec import MeshSpec
from .grf import MaternGRF
from .problems import Problem

__all__ = ["HyperelasticityProblem", "neo_hookean_energy"]


def neo_hookean_energy(u, mu, lmbda):
    """The compressible neo-Hookean stored energy density of the displacement ``u`` (UFL)."""
    d = u.ufl_shape[0]
    F = ufl.Identity(d) + ufl.grad(u)
    J = ufl.det(F)
    return mu / 2 * (ufl.tr(F.T * F) - d - 2 * ufl.ln(J)) + lmbda / 2 * ufl.ln(J) ** 2


class _LoadSteps:
    """Newton on ``F(u; s f) = 0`` for ``s`` from 0 to 1 in ``steps`` increments, each from the
    last solution; an increment whose Newton solve fails is halved (at most 6 times)."""

    def __init__(self, solver, u, scale, steps):
        self.solver, self.u, self.scale, self.steps = solver, u, scale, steps
        self.iterations = []
        self._last = u.copy(deepcopy=True)

    def solve(self):
        from firedrake.exceptions import ConvergenceError
        from firedrake.petsc import PETSc

        its, s, ds = 0, 0.0, 1.0 / self.steps
        while s < 1.0 - 1e-12:
            step = min(ds, 1.0 - s)
            self._last.assign(self.u)
            self.scale.assign(s + step)
            try:
                self.solver.solve()
            except (ConvergenceError, PETSc.Error):
                self.u.assign(self._last)
                ds = step / 2
                if ds < 1.0 / (64 * self.steps):
                    raise ConvergenceError(f"hyperelasticity: Newton failed at load factor {s + step:.4f} even "
                                           f"with increments of {step:.2e}") from None
                continue
            its += self.solver.snes.getIterationNumber()
            s += step
        self.iterations.append(its)


class HyperelasticityProblem(Problem):
    """Plane-strain compressible neo-Hookean body, clamped on boundary ``clamp``,
    under a random body force ``f = load · (ψ_x, ψ_y)`` with ``ψ_x, ψ_y`` Matérn
    fields (CG1 vector input). Output: the displacement in ``[CG_degree]²``.

    Defaults: Cook's membrane (clamped on id 1) with ``μ = 0.3846``,
    ``λ = 0.5769`` (``E = 1``, ``ν = 0.3``), correlation length 12 (a quarter of
    the 48 mm width) and ``load = 0.0015``: peak displacements of a few mm to a
    third of the width, and a response that departs from linear elasticity by
    several per cent (``tests/test_hyperelastic.py``).
    """

    name = "hyperelasticity"

    def __init__(self, mesh_spec: MeshSpec, degree: int = 1, mu: float = 0.3846, lmbda: float = 0.5769,
                 load: float = 0.0015, length_scale: float = 12.0, smoothness: float = 3.0, steps: int = 4,
                 clamp=1, comm=None):
        if not (mu > 0 and lmbda > 0):
            raise ValueError(f"mu, lmbda: expected positive Lamé parameters, got {mu}, {lmbda}")
        if not (isinstance(steps, int) and steps >= 1):
            raise ValueError(f"steps: expected a positive number of load steps, got {steps!r}")
        super().__init__(mesh_spec, comm, degree=degree, mu=mu, lmbda=lmbda, load=load, length_scale=length_scale,
                         smoothness=smoothness, steps=steps, clamp=clamp)
        mesh = self.mesh
        V = fd.VectorFunctionSpace(mesh, "CG", degree)
        self.input_space, self.output_space = fd.VectorFunctionSpace(mesh, "CG", 1), V
        if clamp != "on_boundary":
            self.dirichlet_boundary = [int(c) for c in (clamp if isinstance(clamp, (list, tuple)) else [clamp])]
        self.bcs = [fd.DirichletBC(V, fd.Constant((0.0, 0.0)), clamp)]
        self._grf = MaternGRF(fd.FunctionSpace(mesh, "CG", 1), length_scale, smoothness, 1.0)
        self._input, self._output = fd.Function(self.input_space), fd.Function(V)
        self._scale = fd.Constant(1.0)
        u, v = self._output, fd.TestFunction(V)
        energy = neo_hookean_energy(u, fd.Constant(mu), fd.Constant(lmbda)) * fd.dx
        residual = fd.derivative(energy, u, v) - self._scale * fd.inner(self._input, v) * fd.dx
        problem = fd.NonlinearVariationalProblem(residual, u, bcs=self.bcs)
        params = {"snes_type": "newtonls", "snes_linesearch_type": "bt", "snes_rtol": 1e-10,
                  "snes_atol": 1e-12, "snes_max_it": 30, "snes_error_if_not_converged": True, **lu_parameters()}
        self._solver = _LoadSteps(fd.NonlinearVariationalSolver(problem, solver_parameters=params), u,
                                  self._scale, steps)

    def sample_inputs(self, n, seed, start=None):
        load = self.params["load"]
        fx = self._grf.sample(n, seed=seed, start=start)
        fy = self._grf.sample(n, seed=None if seed is None else seed + 1, start=start)
        return load * torch.stack([fx, fy], dim=-1)

    @property
    def newton_iterations(self) -> list[int]:
        """Newton iterations (all load steps) of every sample solved so far."""
        return list(self._solver.iterations)
