"""Stokes flow: random body force -> velocity, Taylor–Hood P2–P1.

``-Δu + ∇p = f``, ``div u = 0`` in Ω, ``u = 0`` on ∂Ω; ``f`` a random vector
field (two Matérn components, CG1). The pressure is fixed up to a constant by
its nullspace and set to mean zero. The output is the velocity in [CG2]², whose
divergence is zero only weakly (against P1): a model with an exactly
divergence-free decoder is compared against it in ``benchmarks/problems/stokes.py``.
With ``pressure=True`` the output is the pair (u, p) on the Taylor–Hood space
itself, a mixed dataset (``spon datagen --problem stokes --pressure``).
"""
from __future__ import annotations

import firedrake as fd
import torch

from ..mesh.spec import MeshSpec
from .grf import MaternGRF
from .problems import Problem

__all__ = ["StokesProblem"]


class _StokesSolve:
    """Solve the mixed problem, shift the pressure to mean zero, copy (u, p) or u to the output."""

    def __init__(self, solver, w, out):
        self.solver, self.w, self.out = solver, w, out
        p = w.subfunctions[1]
        self.area = fd.assemble(fd.Constant(1.0) * fd.dx(domain=p.function_space().mesh()))

    def solve(self):
        self.w.zero()
        self.solver.solve()
        p = self.w.subfunctions[1]
        p -= fd.assemble(p * fd.dx) / self.area     # the nullspace fixes p only up to a constant
        if self.out is not self.w:
            self.out.assign(self.w.subfunctions[0])


class StokesProblem(Problem):
    """Stokes flow with no-slip walls under a random body force ``f = load · (ψ_x, ψ_y)``.

    ``pressure=False``: the output is the velocity in [CG2]²; ``pressure=True``:
    the output is (u, p) on the Taylor–Hood space ``W`` (p with mean zero), and
    ``bcs`` hold the no-slip condition on ``W.sub(0)``.
    """

    name = "stokes"

    def __init__(self, mesh_spec: MeshSpec, load: float = 1.0, length_scale: float = 0.2, smoothness: float = 3.0,
                 pressure: bool = False, comm=None):
        super().__init__(mesh_spec, comm, load=load, length_scale=length_scale, smoothness=smoothness,
                         pressure=bool(pressure))
        mesh = self.mesh
        V, Q = fd.VectorFunctionSpace(mesh, "CG", 2), fd.FunctionSpace(mesh, "CG", 1)
        W = V * Q
        self.input_space, self.pressure_space = fd.VectorFunctionSpace(mesh, "CG", 1), Q
        self.output_space = W if pressure else V
        self._grf = MaternGRF(fd.FunctionSpace(mesh, "CG", 1), length_scale, smoothness, 1.0)
        self._input, self._w = fd.Function(self.input_space), fd.Function(W)
        self._output = self._w if pressure else fd.Function(V)
        (u, p), (v, q) = fd.TrialFunctions(W), fd.TestFunctions(W)
        a = (fd.inner(fd.grad(u), fd.grad(v)) - p * fd.div(v) - q * fd.div(u)) * fd.dx
        L = fd.inner(self._input, v) * fd.dx
        bcs = [fd.DirichletBC(W.sub(0), fd.Constant((0.0, 0.0)), "on_boundary")]
        self.bcs = bcs if pressure else [fd.DirichletBC(V, fd.Constant((0.0, 0.0)), "on_boundary")]
        nullspace = fd.MixedVectorSpaceBasis(W, [W.sub(0), fd.VectorSpaceBasis(constant=True, comm=mesh.comm)])
        problem = fd.LinearVariationalProblem(a, L, self._w, bcs=bcs, constant_jacobian=True)
        params = {"ksp_type": "gmres", "ksp_rtol": 1e-12, "ksp_atol": 1e-14, "pc_type": "lu",
                  "pc_factor_mat_solver_type": "mumps", "mat_mumps_icntl_24": 1}
        solver = fd.LinearVariationalSolver(problem, solver_parameters=params, nullspace=nullspace,
                                            transpose_nullspace=nullspace)
        self._solver = _StokesSolve(solver, self._w, self._output)

    def metadata(self) -> dict:
        meta = super().metadata()
        if self.params["pressure"]:     # no slip on the velocity, the first part; the pressure is free
            meta["dirichlet"]["part"] = 0
        return meta

    def sample_inputs(self, n, seed, start=None):
        load = self.params["load"]
        fx = self._grf.sample(n, seed=seed, start=start)
        fy = self._grf.sample(n, seed=None if seed is None else seed + 1, start=start)
        return load * torch.stack([fx, fy], dim=-1)
