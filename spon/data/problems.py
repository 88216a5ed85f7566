"""PDE problem generators: random inputs on an FE space -> Firedrake solutions.

Each problem owns one solver that is set up once and reused for every sample
(only the coefficient Functions change between solves).
"""
from __future__ import annotations

import firedrake as fd
import numpy as np
import torch
from tqdm import tqdm

from ..fem.checks import check_finite
from ..fem.layout import SpaceLayout
from ..fem.solve import lu_parameters
from ..mesh.spec import MeshSpec, build_mesh
from .grf import MaternGRF

__all__ = ["Problem", "PoissonProblem", "DarcyProblem", "ElasticityProblem", "PROBLEMS", "make_problem"]


class Problem:
    """Base class: ``input_space``, ``output_space``, ``bcs``, and a reusable solver.

    Subclasses set ``self._input`` (the Function the solver reads), ``self._output``
    (the Function it writes) and ``self._solver``.
    """

    name = "problem"
    #: where the output's Dirichlet data (zero) are prescribed: a model's decoder keeps them exactly
    dirichlet_boundary = "on_boundary"

    def __init__(self, mesh_spec: MeshSpec, comm=None, **params):
        self.mesh_spec = mesh_spec
        self.mesh = build_mesh(mesh_spec, comm)
        self.params = params

    def metadata(self) -> dict:
        return {"problem": self.name, "mesh": self.mesh_spec.to_dict(), "params": dict(self.params),
                "dirichlet": {"value": 0.0, "boundary": self.dirichlet_boundary}}

    def sample_inputs(self, n: int, seed: int, start: int | None = None) -> torch.Tensor:
        """``n`` random inputs; with ``start``, samples ``start … start+n-1`` of a set
        whose every sample has its own random stream (see :meth:`MaternGRF.sample`)."""
        raise NotImplementedError

    def solve(self, inputs: torch.Tensor, progress: bool = True) -> torch.Tensor:
        """Solve for each row of ``inputs`` ``(n, *input layout)``; returns ``(n, output dim)``."""
        lin = SpaceLayout(self.input_space)
        x = lin.flat(lin.check(inputs, "inputs", dtype=torch.float64))
        check_finite(x, "inputs")
        out = np.empty((x.shape[0], self.output_space.dim()))
        for i in tqdm(range(x.shape[0]), desc=f"{self.name} solves", disable=not progress):
            with self._input.dat.vec_wo as v:
                v.array[:] = x[i].numpy()
            self._output.zero()  # the solver updates u ← u + δu: start from 0 for bitwise repeatability
            self._solver.solve()
            with self._output.dat.vec_ro as v:
                out[i] = v.array_r
        return torch.as_tensor(out)


class PoissonProblem(Problem):
    """``-Δu = f`` in Ω, ``u = 0`` on ``boundary``; f a Matérn GRF in CG_k."""

    name = "poisson"

    def __init__(self, mesh_spec: MeshSpec, degree: int = 1, length_scale: float = 0.2,
                 smoothness: float = 3.0, variance: float = 100.0, boundary="on_boundary", comm=None):
        super().__init__(mesh_spec, comm, degree=degree, length_scale=length_scale, smoothness=smoothness,
                         variance=variance, boundary=boundary)
        V = fd.FunctionSpace(self.mesh, "CG", degree)
        self.input_space = self.output_space = V
        self.bcs = [fd.DirichletBC(V, 0.0, boundary)]
        self._grf = MaternGRF(V, length_scale, smoothness, variance)
        self._input, self._output = fd.Function(V), fd.Function(V)
        u, v = fd.TrialFunction(V), fd.TestFunction(V)
        problem = fd.LinearVariationalProblem(fd.inner(fd.grad(u), fd.grad(v)) * fd.dx,
                                              self._input * v * fd.dx, self._output, bcs=self.bcs,
                                              constant_jacobian=True)
        self._solver = fd.LinearVariationalSolver(problem, solver_parameters=lu_parameters())

    def sample_inputs(self, n, seed, start=None):
        return self._grf.sample(n, seed=seed, start=start)


class DarcyProblem(Problem):
    """``-∇·(κ∇u) = f`` in Ω, ``u = 0`` on ∂Ω, with the FNO recipe for κ:
    a Matérn GRF ψ thresholded cell-wise, κ = ``high`` where ψ ≥ 0 and ``low``
    elsewhere (κ ∈ DG0), f = ``forcing``. Output u ∈ CG_k.

    ``solver``:

    * ``"lu"``: MUMPS, exact to round-off; best on small meshes;
    * ``"amg"``: CG with PETSc's GAMG to a relative residual of 1e-10 (every κ
      needs a new operator; on meshes of 10⁴ DOFs and more one AMG setup and a
      dozen CG iterations cost less than a sparse factorisation);
    * ``"mg"``: the fastest for many κ on a refined mesh (``refinements ≥ 1``,
      one rank): the operator is refilled from κ by one sparse product
      (:class:`~spon.fem.affine.CellwiseAffineMatrix`, no assembly) and solved
      by CG with a geometric V-cycle over the mesh hierarchy
      (:class:`~spon.fem.gmg.GalerkinMultigridSolver`) to a relative residual of 1e-10.
    """

    name = "darcy"

    def __init__(self, mesh_spec: MeshSpec, degree: int = 1, length_scale: float = 0.15,
                 smoothness: float = 3.0, high: float = 12.0, low: float = 3.0, forcing: float = 1.0,
                 solver: str = "lu", comm=None):
        if not (low > 0 and high > 0):
            raise ValueError(f"low, high: expected positive conductivities, got {low}, {high}")
        if solver not in _DARCY_SOLVERS:
            raise ValueError(f"solver: expected one of {sorted(_DARCY_SOLVERS)}, got {solver!r}")
        super().__init__(mesh_spec, comm, degree=degree, length_scale=length_scale, smoothness=smoothness,
                         high=high, low=low, forcing=forcing, solver=solver)
        V = fd.FunctionSpace(self.mesh, "CG", degree)
        K = fd.FunctionSpace(self.mesh, "DG", 0)
        self.input_space, self.output_space = K, V
        self.bcs = [fd.DirichletBC(V, 0.0, "on_boundary")]
        self._grf = MaternGRF(fd.FunctionSpace(self.mesh, "CG", 1), length_scale, smoothness, 1.0)
        self._to_cells = fd.Function(K)
        self._input, self._output = fd.Function(K), fd.Function(V)
        u, v = fd.TrialFunction(V), fd.TestFunction(V)
        a = self._input * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx
        problem = fd.LinearVariationalProblem(a, fd.Constant(forcing) * v * fd.dx, self._output, bcs=self.bcs)
        if solver == "mg":
            self._solver = _AffineMultigridSolve(self, degree)
        else:
            self._solver = fd.LinearVariationalSolver(problem, solver_parameters=_DARCY_SOLVERS[solver]())

    def sample_inputs(self, n, seed, start=None):
        psi = self._grf.sample(n, seed=seed, start=start)
        fn = fd.Function(self._grf.V)
        out = np.empty((n, self.input_space.dim()))
        for i in range(n):
            fn.dat.data_wo[:] = psi[i].numpy()
            cell = self._to_cells.interpolate(fn)  # ψ at cell centroids
            out[i] = np.where(cell.dat.data_ro >= 0, self.params["high"], self.params["low"])
        return torch.as_tensor(out)


class ElasticityProblem(Problem):
    """Linear elasticity (plane strain in 2D; 3D on a 3D mesh), clamped on boundary ``clamp``.

    ``mode="body_force"``: a random vector body force (one GRF per component), fixed
    Young's modulus. ``mode="youngs_modulus"``: a log-normal Young's modulus
    field ``E = E0 exp(0.5 ψ)`` (CG1 input) under a fixed downward body force.
    """

    name = "elasticity"

    def __init__(self, mesh_spec: MeshSpec, degree: int = 1, mode: str = "body_force",
                 youngs: float = 1.0, poisson: float = 0.3, length_scale: float = 0.2,
                 smoothness: float = 3.0, clamp=1, comm=None):
        if mode not in ("body_force", "youngs_modulus"):
            raise ValueError(f"mode: expected 'body_force' or 'youngs_modulus', got {mode!r}")
        if not (youngs > 0 and -1 < poisson < 0.5):
            raise ValueError(f"youngs, poisson: expected E > 0 and -1 < ν < 0.5, got {youngs}, {poisson}")
        super().__init__(mesh_spec, comm, degree=degree, mode=mode, youngs=youngs, poisson=poisson,
                         length_scale=length_scale, smoothness=smoothness, clamp=clamp)
        V = fd.VectorFunctionSpace(self.mesh, "CG", degree)
        S = fd.FunctionSpace(self.mesh, "CG", 1)
        self.output_space, d = V, self.mesh.geometric_dimension
        if clamp != "on_boundary":
            self.dirichlet_boundary = [int(c) for c in (clamp if isinstance(clamp, (list, tuple)) else [clamp])]
        self.bcs = [fd.DirichletBC(V, fd.as_vector([0.0] * d), clamp)]
        self._grf = MaternGRF(S, length_scale, smoothness, 1.0)
        u, v = fd.TrialFunction(V), fd.TestFunction(V)
        if mode == "body_force":
            self.input_space = fd.VectorFunctionSpace(self.mesh, "CG", 1)
            self._input, E, f = fd.Function(self.input_space), fd.Constant(youngs), None
            f = self._input
        else:
            self.input_space = S
            self._input = fd.Function(S)
            E, f = self._input, fd.as_vector([0.0] * (d - 1) + [-1.0])
        mu, lmbda = E / (2 * (1 + poisson)), E * poisson / ((1 + poisson) * (1 - 2 * poisson))

        def sigma(w):
            eps = fd.sym(fd.grad(w))
            return 2 * mu * eps + lmbda * fd.tr(eps) * fd.Identity(d)

        self._output = fd.Function(V)
        problem = fd.LinearVariationalProblem(fd.inner(sigma(u), fd.grad(v)) * fd.dx, fd.inner(f, v) * fd.dx,
                                              self._output, bcs=self.bcs,
                                              constant_jacobian=(mode == "body_force"))
        self._solver = fd.LinearVariationalSolver(problem, solver_parameters=lu_parameters())

    def sample_inputs(self, n, seed, start=None):
        if self.params["mode"] == "body_force":       # component i from seed + i
            d = self.output_space.value_shape[0]
            return torch.stack([self._grf.sample(n, seed=None if seed is None else seed + i, start=start)
                                for i in range(d)], dim=-1)
        return self.params["youngs"] * torch.exp(0.5 * self._grf.sample(n, seed=seed, start=start))


class _AffineMultigridSolve:
    """Darcy's ``solve()`` for ``solver="mg"``: κ ↦ A(κ) by a sparse product, then multigrid CG."""

    def __init__(self, prob, degree):
        from ..fem.affine import CellwiseAffineMatrix, cell_average_matrix
        from ..fem.gmg import GeometricMultigridSolver
        from ..mesh.spec import build_hierarchy

        if prob.mesh_spec.refinements < 1:
            raise ValueError("solver: 'mg' needs a mesh hierarchy (mesh_spec.refinements >= 1), got 0 refinements")
        K, V = prob.input_space, prob.output_space
        u, v = fd.TrialFunction(V), fd.TestFunction(V)
        self.A = CellwiseAffineMatrix(lambda k: k * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx, K, V, prob.bcs)
        self.b = fd.assemble(fd.Constant(prob.params["forcing"]) * fd.TestFunction(V) * fd.dx, bcs=prob.bcs)
        meshes = build_hierarchy(prob.mesh_spec, None if prob.mesh.comm.size == 1 else prob.mesh.comm)
        spaces = [fd.FunctionSpace(m, "CG", degree) for m in meshes[:-1]] + [V]
        # coarse levels: the same form with κ averaged over each coarse cell's children
        self.levels, avg = [], None
        Kf = K
        for m, Vl in zip(meshes[-2::-1], spaces[-2::-1]):
            Kc = fd.FunctionSpace(m, "DG", 0)
            step = cell_average_matrix(Kc, Kf)
            avg = step if avg is None else step @ avg
            ul, vl = fd.TrialFunction(Vl), fd.TestFunction(Vl)
            self.levels.insert(0, CellwiseAffineMatrix(lambda k: k * fd.inner(fd.grad(ul), fd.grad(vl)) * fd.dx, Kc,
                                                       Vl, [fd.DirichletBC(Vl, 0.0, "on_boundary")], kappa_map=avg))
            Kf = Kc
        self.gmg = GeometricMultigridSolver(self.A.mat, spaces, level_mats=[L.mat for L in self.levels],
                                            bcs=[L.bcs for L in self.levels] + [prob.bcs])
        self.prob = prob

    def solve(self):
        for L in self.levels:
            L.update(self.prob._input.dat.data_ro)
        self.A.update(self.prob._input.dat.data_ro)
        with self.b.dat.vec_ro as b, self.prob._output.dat.vec_wo as x:
            self.gmg.solve(b, x)


_DARCY_SOLVERS = {"lu": lu_parameters,
                  "amg": lambda: {"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-10, "ksp_atol": 0.0},
                  "mg": None}

PROBLEMS = {"poisson": PoissonProblem, "darcy": DarcyProblem, "elasticity": ElasticityProblem}  # + hyperelasticity


def make_problem(name: str, mesh_spec: MeshSpec, comm=None, **params) -> Problem:
    """Build a problem by name (``poisson``, ``darcy``, ``elasticity``, ``hyperelasticity``)."""
    if name not in PROBLEMS:
        raise ValueError(f"name: expected one of {sorted(PROBLEMS)}, got {name!r}")
    return PROBLEMS[name](mesh_spec, comm=comm, **params)
