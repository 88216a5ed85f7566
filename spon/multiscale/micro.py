"""The microscale cell problem of first-order periodic homogenisation.

Given a macro strain ``ε̄`` (Voigt ``(ε_xx, ε_yy, γ_xy)``), find the periodic,
zero-mean fluctuation ``ũ`` with ``u = ε̄·x + ũ`` such that

    ∫_Y σ(ε̄ + ε(ũ)) : ε(v) dx = 0    for all periodic v,

by Newton's method on a periodic mesh. Returns ``ũ``, the homogenised stress
``σ̄ = ⟨σ⟩`` and the consistent tangent ``C̄ = dσ̄/dε̄``, computed from the three
linearised cell problems ``J δũ_k = -∫ (C_t : E_k) : ε(v)`` at the converged
state (one factorisation, three solves), not by finite differences.

The rigid translations are the null space of the periodic problem. They are
handed to PETSc as a null space (of the Jacobian and its transpose) and MUMPS
factorises the singular matrix with null-pivot detection; the returned ``ũ``
is then shifted to zero mean (stresses are unaffected).

Examples
--------
>>> from spon.mesh import rve_mesh
>>> from spon.multiscale import RVEProblem, equino_materials
>>> rve = RVEProblem(rve_mesh("fibre", h=0.1), equino_materials())
>>> sol = rve.solve([0.01, 0.0, 0.0])
>>> sol.stress.shape, sol.tangent.shape
((3,), (3, 3))
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .voigt import voigt_strain, voigt_stress
from .materials import LinearElastic, Material, NonlinearElasticMatrix

__all__ = ["RVEProblem", "MicroSolution", "equino_materials", "check_strain", "is_periodic", "periodic_mismatch",
           "phase_indicators"]


def _solver_parameters(**extra) -> dict:
    from ..fem.solve import lu_parameters
    # MUMPS null-pivot detection: the periodic Jacobian is singular (translations)
    return lu_parameters(mat_type="aij", mat_mumps_icntl_24=1, **extra)


def equino_materials(matrix: Material | None = None, fibre: Material | None = None) -> dict:
    """EquiNO's phases by physical group: 1 = nonlinear matrix, 2 = linear fibre."""
    return {1: matrix or NonlinearElasticMatrix(), 2: fibre or LinearElastic(K=43452.38, G=29918.03)}


def check_strain(strain, name="strain", batched=False) -> np.ndarray:
    E = np.asarray(strain, dtype=float)
    want = (-1, 3) if batched else (3,)
    if E.ndim != len(want) or E.shape[-1] != 3:
        raise ValueError(f"{name}: expected Voigt strain{'s' if batched else ''} of shape "
                         f"{'(N, 3)' if batched else '(3,)'} (eps_xx, eps_yy, gamma_xy), got {E.shape}")
    if not np.all(np.isfinite(E)):
        raise ValueError(f"{name}: contains NaN or Inf")
    return E


def is_periodic(mesh) -> bool:
    """Periodic Firedrake meshes carry discontinuous coordinates."""
    fam = mesh.coordinates.function_space().ufl_element().family()
    return "Discontinuous" in fam or fam == "DQ"


def periodic_mismatch(f, tol: float = 1e-12):
    """Largest ``|f(0, s) − f(1, s)|`` and ``|f(s, 0) − f(s, 1)|`` over matching edge nodes of a
    function on the unit cell, and the smaller of the two edges' numbers of node pairs.

    ``f`` is sampled at the nodes of an equispaced DG space of its degree, which has nodes on
    every cell's boundary, so both sides of a periodic edge are seen. Raises if the nodes on
    opposite edges do not pair up.
    """
    import firedrake as fd

    from ..fem.layout import dof_coordinates
    mesh = f.function_space().mesh()
    deg = max(f.function_space().ufl_element().embedded_superdegree, 1)
    D = fd.VectorFunctionSpace(mesh, "DG", deg, variant="equispaced", dim=f.ufl_shape[0]) if f.ufl_shape \
        else fd.FunctionSpace(mesh, "DG", deg, variant="equispaced")
    U = fd.Function(D).interpolate(f).dat.data_ro
    X = dof_coordinates(fd.FunctionSpace(mesh, "DG", deg, variant="equispaced"))
    worst, pairs = 0.0, None
    for d in (0, 1):
        side = [{round(float(t), 9): U[i] for i, t in zip(np.flatnonzero(m), X[m, 1 - d])}
                for m in (np.abs(X[:, d]) < tol, np.abs(X[:, d] - 1) < tol)]
        if side[0].keys() != side[1].keys():
            raise ValueError(f"f: the nodes on the two edges normal to {'xy'[d]} do not pair up "
                             f"({len(side[0])} vs {len(side[1])})")
        worst = max([worst] + [float(np.abs(side[0][k] - side[1][k]).max()) for k in side[0]])
        pairs = len(side[0]) if pairs is None else min(pairs, len(side[0]))
    return worst, pairs


def phase_indicators(mesh, materials: dict, phase, dx, volume: float) -> dict:
    """``{id: χ}``, the indicator of each phase: DG0 fractions of the mesh's cell regions, or
    conditionals on a phase-id field ``phase``; raises unless they cover the cell exactly once."""
    import firedrake as fd
    import ufl
    chi = {}
    if phase is None:
        DG0 = fd.FunctionSpace(mesh, "DG", 0)
        vol = fd.assemble(fd.TestFunction(DG0) * fd.dx(domain=mesh)).dat.data_ro
        for pid in materials:
            c = fd.Function(DG0, name=f"phase_{pid}")
            try:
                c.dat.data[:] = fd.assemble(fd.TestFunction(DG0) * fd.dx(pid, domain=mesh)).dat.data_ro / vol
            except Exception as e:  # unknown subdomain id
                raise ValueError(f"materials: phase id {pid} is not a cell region of the mesh ({e})") from None
            chi[pid] = c
        cover = sum(c.dat.data_ro for c in chi.values())
        bad = int(np.sum(~np.isclose(cover, 1.0)))
    else:
        # a phase-id field or expression, sampled at the quadrature points
        for pid in materials:
            chi[pid] = ufl.conditional(ufl.lt(abs(phase - pid), 0.5), 1.0, 0.0)
        covered = fd.assemble(sum(chi.values()) * dx)
        bad = 0 if abs(covered - volume) < 1e-12 * volume else 1
    if bad:
        raise ValueError(f"materials: ids {sorted(materials)} leave part of the cell without exactly "
                         "one material; give a material for every physical surface / phase id")
    return chi


@dataclass
class MicroSolution:
    """One solved cell problem."""
    strain: np.ndarray
    fluctuation: object          # firedrake.Function, periodic, zero mean
    stress: np.ndarray           # (3,) homogenised stress σ̄
    tangent: np.ndarray | None   # (3, 3) consistent tangent dσ̄/dε̄
    iterations: int
    residuals: list = field(default_factory=list)
    raw: np.ndarray | None = None   # solver DOFs before the mean shift (warm starts, stress_field)


class RVEProblem:
    """Periodic cell problem on a periodic RVE mesh.

    Parameters
    ----------
    mesh : firedrake.MeshGeometry
        A periodic mesh of the cell (e.g. :func:`spon.mesh.rve_mesh`).
    materials : dict[int, Material]
        Material per cell subdomain (physical surface) id; the ids must cover the mesh.
    degree : int
        Lagrange degree of the fluctuation (default 2).
    quadrature_degree : int
        Fixed quadrature degree of every form (default ``2 (degree - 1)``, at least 1).
    phase : UFL expression, optional
        A field of phase ids (e.g. a DG0 Function, or a conditional on the
        coordinates), sampled at quadrature points, instead of the mesh's cell subdomains.
    rtol, atol : float
        Newton tolerances on the residual norm.
    """

    def __init__(self, mesh, materials: dict, *, degree: int = 2, quadrature_degree: int | None = None,
                 phase=None, rtol: float = 1e-10, atol: float = 1e-10, max_it: int = 30):
        import firedrake as fd
        import ufl

        if not isinstance(mesh, fd.MeshGeometry) or mesh.geometric_dimension != 2:
            raise TypeError(f"mesh: expected a 2D firedrake mesh, got {type(mesh).__name__}")
        if not is_periodic(mesh):
            raise ValueError("mesh: expected a periodic RVE mesh (matching nodes on opposite edges, "
                             "e.g. spon.mesh.rve_mesh); got a non-periodic mesh")
        if not isinstance(materials, dict) or not materials:
            raise TypeError("materials: expected a dict {phase id: Material}")
        for k, m in materials.items():
            if not isinstance(m, Material):
                raise TypeError(f"materials[{k}]: expected a spon.multiscale.Material, got {type(m).__name__}")
        if degree < 1:
            raise ValueError(f"degree: expected >= 1, got {degree}")
        self.mesh, self.materials, self.degree = mesh, dict(materials), degree
        self.qdeg = quadrature_degree if quadrature_degree is not None else max(1, 2 * (degree - 1))
        self.dx = fd.dx(domain=mesh, degree=self.qdeg)
        self.rtol, self.atol, self.max_it = rtol, atol, max_it

        self.volume = float(fd.assemble(fd.Constant(1.0) * fd.dx(domain=mesh)))
        self.chi = phase_indicators(mesh, materials, phase, self.dx, self.volume)

        self.V = fd.VectorFunctionSpace(mesh, "CG", degree)
        self.u = fd.Function(self.V, name="fluctuation")
        v = fd.TestFunction(self.V)
        self.E = fd.Constant(np.zeros(3))
        eps = ufl.variable(voigt_strain(self.E) + ufl.sym(ufl.grad(self.u)))
        self.sigma = sum(c * m.stress(eps) for c, m in ((self.chi[p], self.materials[p]) for p in self.materials))
        self.Ct = ufl.diff(self.sigma, eps)   # material tangent, 2x2x2x2
        i, j, k, l = ufl.indices(4)
        self._Ek = [fd.Constant(np.eye(3)[n]) for n in range(3)]
        self.F = ufl.inner(self.sigma, ufl.sym(ufl.grad(v))) * self.dx
        self.J = fd.derivative(self.F, self.u)
        self._rhs = [-ufl.inner(ufl.as_tensor(self.Ct[i, j, k, l] * voigt_strain(Ek)[k, l], (i, j)),
                                ufl.sym(ufl.grad(v))) * self.dx for Ek in self._Ek]
        self._sig_forms = [voigt_stress(self.sigma)[n] * self.dx for n in range(3)]
        # rigid translations: the null space of J and of Jᵀ (J is symmetric)
        self._nullspace = fd.VectorSpaceBasis(
            [fd.Function(self.V).assign(fd.Constant(c)) for c in ((1.0, 0.0), (0.0, 1.0))])
        self._nullspace.orthonormalize()
        problem = fd.NonlinearVariationalProblem(self.F, self.u, J=self.J)
        self._residuals = []
        sp = _solver_parameters(snes_type="newtonls", snes_linesearch_type="basic", snes_rtol=rtol,
                                snes_atol=atol, snes_stol=0.0, snes_max_it=max_it)
        self.solver = fd.NonlinearVariationalSolver(problem, solver_parameters=sp, nullspace=self._nullspace,
                                                    transpose_nullspace=self._nullspace)
        self.solver.snes.setMonitor(lambda snes, it, r: self._residuals.append(float(r)))
        self._du = fd.Function(self.V)
        self._assemblers, self._mean_f, self._A = {}, None, None

    # ------------------------------------------------------------------ solve
    def solve(self, strain, *, tangent: bool = True, initial: np.ndarray | None = None) -> MicroSolution:
        """Solve the cell problem at macro strain ``strain`` (Voigt, shape (3,)).

        ``initial`` is a warm start: the ``.dat`` values of an earlier fluctuation.
        """
        import firedrake as fd
        from firedrake.exceptions import ConvergenceError

        E = check_strain(strain)
        self.E.assign(E)
        if initial is None:
            self.u.zero()
        else:
            self.u.dat.data[:] = initial
        self._residuals = []
        try:
            self.solver.solve()
        except ConvergenceError as e:
            raise RuntimeError(f"strain: the cell problem at {E.tolist()} did not converge "
                               f"(residuals {self._residuals}): {e}") from None
        its = self.solver.snes.getIterationNumber()
        raw = self.u.dat.data_ro.copy()
        sig = np.array([self._zero(f) for f in self._sig_forms]) / self.volume
        C = self._tangent() if tangent else None
        out = fd.Function(self.V, name="fluctuation")
        out.dat.data[:] = raw - self._mean(raw)
        return MicroSolution(E, out, sig, C, its, list(self._residuals), raw)

    def _zero(self, form):
        """Assemble a 0-form through a cached assembler (skips UFL preprocessing)."""
        from firedrake.assemble import get_assembler
        a = self._assemblers.get(id(form))
        if a is None:
            a = self._assemblers[id(form)] = get_assembler(form)
        return float(a.assemble())

    def _mean(self, raw):
        import firedrake as fd
        if self._mean_f is None:
            self._mean_f = fd.Function(self.V)
            self._mean_forms = [self._mean_f[n] * fd.dx(domain=self.mesh) for n in range(2)]
        self._mean_f.dat.data[:] = raw
        return np.array([self._zero(f) for f in self._mean_forms]) / self.volume

    def _tangent(self):
        import firedrake as fd
        import ufl
        from firedrake.assemble import get_assembler
        if self._A is None:   # built at the first tangent, reused after
            self._A_asm = get_assembler(self.J, mat_type="aij")
            self._A = self._A_asm.allocate()
            self._b_asm = [get_assembler(r) for r in self._rhs]
            self._b = [fd.Cofunction(self.V.dual()) for _ in self._rhs]
            self._ls = fd.LinearSolver(self._A, solver_parameters=_solver_parameters(),
                                       nullspace=self._nullspace, transpose_nullspace=self._nullspace)
            i, j, k, l = ufl.indices(4)
            dS = ufl.as_tensor(self.Ct[i, j, k, l] * ufl.sym(ufl.grad(self._du))[k, l], (i, j))
            self._dsig_forms = [voigt_stress(dS)[n] * self.dx for n in range(3)]
            self._csig_forms = [[voigt_stress(ufl.as_tensor(self.Ct[i, j, k, l] * voigt_strain(Ek)[k, l],
                                                            (i, j)))[n] * self.dx for n in range(3)]
                                for Ek in self._Ek]
        self._A_asm.assemble(tensor=self._A)   # new values: the LU is redone on the next solve
        C = np.zeros((3, 3))
        for kk in range(3):
            b = self._b_asm[kk].assemble(tensor=self._b[kk])
            self._ls.solve(self._du, b)
            C[:, kk] = [self._zero(self._csig_forms[kk][n]) + self._zero(self._dsig_forms[n])
                        for n in range(3)]
        return C / self.volume

    # --------------------------------------------------------------- helpers
    def stress_field(self, solution: MicroSolution | None = None, space=None):
        """The microscale stress ``(σ_xx, σ_yy, σ_xy)`` interpolated into ``space``
        (default: vector DG of degree ``degree - 1``)."""
        import firedrake as fd
        if solution is not None:
            self.E.assign(solution.strain)
            self.u.dat.data[:] = solution.raw
        space = space or fd.VectorFunctionSpace(self.mesh, "DG", max(self.degree - 1, 0), dim=3)
        return fd.Function(space, name="stress").interpolate(voigt_stress(self.sigma))
