"""Stokes flow: random body force -> velocity, Taylor–Hood P2–P1.

``-Δu + ∇p = f``, ``div u = 0`` in Ω, ``u = 0`` on ∂Ω; ``f`` a random vector
field (two Matérn components, CG1). The pressure is fixed up to a constant by
its nullspace. The output is the velocity in [CG2]², whose divergence is zero
only weakly (against P1): a model with an exactly divergence-free decoder is
compared against it in ``benchmarks/spon_paper.py``.
"""
from __future__ import annotations

import firedrake as fd
import torch

from ..mesh.spec import MeshSpec
from .grf import MaternGRF
from .problems import Problem

__all__ = ["StokesProblem"]


class _VelocityOf:
    """Solve the mixed problem, then copy its velocity into the problem's output."""

    def __init__(self, solver, w, u):
        self.solver, self.w, self.u = solver, w, u

    def solve(self):
        self.w.zero()
        self.solver.solve()
        self.u.assign(self.w.subfunctions[0])


class StokesProblem(Problem):
    """Stokes flow with no-slip walls under a random body force ``f = load · (ψ_x, ψ_y)``."""

    name = "stokes"

    def __init__(self, mesh_spec: MeshSpec, load: float = 1.0, length_scale: float = 0.2, smoothness: float = 3.0,
                 comm=None):
        super().__init__(mesh_spec, comm, load=load, length_scale=length_scale, smoothness=smoothness)
        mesh = self.mesh
        V, Q = fd.VectorFunctionSpace(mesh, "CG", 2), fd.FunctionSpace(mesh, "CG", 1)
        W = V * Q
        self.input_space, self.output_space, self.pressure_space = fd.VectorFunctionSpace(mesh, "CG", 1), V, Q
        self.bcs = [fd.DirichletBC(V, fd.Constant((0.0, 0.0)), "on_boundary")]
        self._grf = MaternGRF(fd.FunctionSpace(mesh, "CG", 1), length_scale, smoothness, 1.0)
        self._input, self._output, self._w = fd.Function(self.input_space), fd.Function(V), fd.Function(W)
        (u, p), (v, q) = fd.TrialFunctions(W), fd.TestFunctions(W)
        a = (fd.inner(fd.grad(u), fd.grad(v)) - p * fd.div(v) - q * fd.div(u)) * fd.dx
        L = fd.inner(self._input, v) * fd.dx
        bcs = [fd.DirichletBC(W.sub(0), fd.Constant((0.0, 0.0)), "on_boundary")]
        nullspace = fd.MixedVectorSpaceBasis(W, [W.sub(0), fd.VectorSpaceBasis(constant=True, comm=mesh.comm)])
        problem = fd.LinearVariationalProblem(a, L, self._w, bcs=bcs, constant_jacobian=True)
        params = {"ksp_type": "gmres", "ksp_rtol": 1e-12, "ksp_atol": 1e-14, "pc_type": "lu",
                  "pc_factor_mat_solver_type": "mumps", "mat_mumps_icntl_24": 1}
        solver = fd.LinearVariationalSolver(problem, solver_parameters=params, nullspace=nullspace,
                                            transpose_nullspace=nullspace)
        self._solver = _VelocityOf(solver, self._w, self._output)

    def sample_inputs(self, n, seed, start=None):
        load = self.params["load"]
        fx = self._grf.sample(n, seed=seed, start=start)
        fy = self._grf.sample(n, seed=None if seed is None else seed + 1, start=start)
        return load * torch.stack([fx, fy], dim=-1)
