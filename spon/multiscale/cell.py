"""The periodic cell problem at finite strain (and its small-strain limit), in 2D and 3D.

Given a macro deformation gradient ``F̄`` (``d × d``), find the periodic zero-mean
fluctuation ``w`` with ``u = (F̄ − I) X + w`` such that

    ∫_Y P(F̄ + ∇w) : ∇v dX = 0    for all periodic v,     P = ∂ψ/∂F,

by Newton's method, and return the averaged first Piola–Kirchhoff stress
``P̄ = ⟨P⟩`` and the consistent tangent ``Ā = ∂P̄/∂F̄``. The tangent comes from the
``d²`` linearised cell problems ``J δw_kl = −∫ (A : E_kl) : ∇v`` at the converged
state (one factorisation), and since ``A`` is major-symmetric::

    Ā_ijkl = ⟨A_ijkl⟩ + (1/|Y|) ∫ E_ij : A : ∇δw_kl = ⟨A_ijkl⟩ − b_ij · δw_kl / |Y|,

so each column is one dot product with the assembled right-hand side.
``kinematics="small"`` solves the small-strain problem with each phase's
linearised energy: ``ε = sym(F̄ − I + ∇w)``, ``σ̄ = ⟨σ⟩``, ``∂σ̄/∂F̄``.

Large stretches are reached by continuation: a Newton solve that fails is
retried from the last converged state in halved increments of ``F̄``.

Examples
--------
>>> import numpy as np
>>> from spon.mesh import rve_mesh
>>> from spon.multiscale import FiniteStrainRVEProblem, NeoHookean
>>> rve = FiniteStrainRVEProblem(rve_mesh("fibre", h=0.2), {1: NeoHookean(1.0, 2.0), 2: NeoHookean(10.0, 20.0)})
>>> sol = rve.solve(np.array([[1.1, 0.0], [0.05, 0.95]]))
>>> sol.stress.shape, sol.tangent.shape
((2, 2), (2, 2, 2, 2))
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .hyperelastic import HyperelasticLaw
from .micro import _solver_parameters, is_periodic, phase_indicators

__all__ = ["FiniteStrainRVEProblem", "CellSolution", "check_deformation_gradient"]


def check_deformation_gradient(F, d: int, name: str = "F", batched: bool = False) -> np.ndarray:
    """``F`` as a float array of shape ``(d, d)`` (or ``(N, d, d)``), finite, with ``det F > 0``."""
    A = np.asarray(F, dtype=float)
    want = (d, d) if not batched else (-1, d, d)
    if A.ndim != len(want) or A.shape[-2:] != (d, d):
        raise ValueError(f"{name}: expected {'a batch of ' if batched else ''}{d}x{d} deformation gradient"
                         f"{'s of shape (N, %d, %d)' % (d, d) if batched else ''}, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name}: contains NaN or Inf")
    J = np.linalg.det(A)
    if np.any(J <= 0):
        raise ValueError(f"{name}: det F must be positive (no interpenetration), got min det {J.min():.3g}")
    return A


def _polar_path(F0, F1):
    """``t ↦ R(t) U(t)`` from ``F0`` to ``F1``: the rotation along the geodesic ``R0 exp(t log(R0ᵀR1))`` and
    the stretch linearly. A straight line ``F0 + t (F1 − F0)`` between two rotated states passes through
    compressed, even singular, ``F``; this path keeps every stretch between the two ends'."""
    from scipy.linalg import expm, logm, polar

    R0, U0 = polar(F0)
    R1, U1 = polar(F1)
    W = logm(R0.T @ R1).real
    W = 0.5 * (W - W.T)
    return lambda t: R0 @ expm(t * W) @ (U0 + t * (U1 - U0))


@dataclass
class CellSolution:
    """One solved cell problem."""
    F: np.ndarray                # (d, d) macro deformation gradient
    fluctuation: object          # firedrake.Function, periodic, zero mean
    stress: np.ndarray           # (d, d) P̄ (σ̄ for small strain)
    tangent: np.ndarray | None   # (d, d, d, d) ∂P̄/∂F̄
    iterations: int
    raw: np.ndarray              # solver DOFs before the mean shift (warm starts)
    substeps: int = 1
    seconds: float = 0.0
    residuals: list = field(default_factory=list)


class FiniteStrainRVEProblem:
    """Periodic hyperelastic cell problem on a periodic 2D (plane strain) or 3D RVE mesh.

    Parameters
    ----------
    mesh : firedrake.MeshGeometry
        A periodic mesh of the cell (:func:`spon.mesh.rve_mesh`, :func:`spon.mesh.rve3d_mesh`,
        :func:`spon.mesh.periodic_mesh`).
    materials : dict[int, HyperelasticLaw]
        Phase law per cell region id; the ids must cover the mesh.
    kinematics : ``"finite"`` (default) or ``"small"`` (each law's linearised energy).
    degree, quadrature_degree : Lagrange degree of ``w`` (default 2) and the fixed quadrature degree
        (default ``2 (degree − 1)``, at least 1; the finite-strain integrands are not polynomials).
    phase : optional UFL phase-id field, as for :class:`~spon.multiscale.RVEProblem`.
    """

    def __init__(self, mesh, materials: dict, *, kinematics: str = "finite", degree: int = 2,
                 quadrature_degree: int | None = None, phase=None, rtol: float = 1e-10, atol: float = 1e-10,
                 max_it: int = 25, max_bisections: int = 6):
        import firedrake as fd
        import ufl

        if not isinstance(mesh, fd.MeshGeometry) or mesh.geometric_dimension not in (2, 3):
            raise TypeError(f"mesh: expected a 2D or 3D firedrake mesh, got {type(mesh).__name__}")
        if not is_periodic(mesh):
            raise ValueError("mesh: expected a periodic RVE mesh (matching nodes on opposite faces, e.g. "
                             "spon.mesh.rve_mesh / rve3d_mesh / periodic_mesh); got a non-periodic mesh")
        if kinematics not in ("finite", "small"):
            raise ValueError(f"kinematics: expected 'finite' or 'small', got {kinematics!r}")
        if not isinstance(materials, dict) or not materials:
            raise TypeError("materials: expected a dict {phase id: HyperelasticLaw}")
        for k, m in materials.items():
            if not isinstance(m, HyperelasticLaw):
                raise TypeError(f"materials[{k}]: expected a spon.multiscale.HyperelasticLaw (NeoHookean, "
                                f"MooneyRivlin, UserHyperelastic), got {type(m).__name__}")
        if degree < 1:
            raise ValueError(f"degree: expected >= 1, got {degree}")
        self.mesh, self.materials, self.degree, self.kinematics = mesh, dict(materials), degree, kinematics
        self.d = d = mesh.geometric_dimension
        self.qdeg = quadrature_degree if quadrature_degree is not None else max(1, 2 * (degree - 1))
        self.dx = fd.dx(domain=mesh, degree=self.qdeg)
        self.rtol, self.atol, self.max_it, self.max_bisections = rtol, atol, max_it, max_bisections
        self.volume = float(fd.assemble(fd.Constant(1.0) * fd.dx(domain=mesh)))
        self.chi = phase_indicators(mesh, materials, phase, self.dx, self.volume)

        self.V = fd.VectorFunctionSpace(mesh, "CG", degree)
        self.u = fd.Function(self.V, name="fluctuation")
        v = fd.TestFunction(self.V)
        self.Fbar = fd.Constant(np.eye(d))
        G = ufl.variable(self.Fbar + ufl.grad(self.u))
        if kinematics == "finite":
            psi = sum(c * m.energy(G) for c, m in ((self.chi[p], self.materials[p]) for p in self.materials))
        else:
            eps = ufl.sym(G - ufl.Identity(d))
            psi = sum(c * m.small_strain_energy(eps) for c, m in ((self.chi[p], self.materials[p])
                                                                  for p in self.materials))
        self.P = ufl.diff(psi, G)
        self.A = ufl.diff(self.P, G)
        i, j, k, l = ufl.indices(4)
        self.F = ufl.inner(self.P, ufl.grad(v)) * self.dx
        self.J = fd.derivative(self.F, self.u)
        E = [fd.Constant(np.eye(d * d)[n].reshape(d, d)) for n in range(d * d)]
        self._rhs = [-ufl.inner(ufl.as_tensor(self.A[i, j, k, l] * Ek[k, l], (i, j)), ufl.grad(v)) * self.dx
                     for Ek in E]
        T2 = fd.TensorFunctionSpace(mesh, "DG", 0, shape=(d, d))
        T4 = fd.TensorFunctionSpace(mesh, "DG", 0, shape=(d, d, d, d))
        self._P_form = ufl.inner(self.P, fd.TestFunction(T2)) * self.dx
        self._A_form = ufl.inner(self.A, fd.TestFunction(T4)) * self.dx
        self._nullspace = fd.VectorSpaceBasis([fd.Function(self.V).assign(fd.Constant(c)) for c in np.eye(d)])
        self._nullspace.orthonormalize()
        problem = fd.NonlinearVariationalProblem(self.F, self.u, J=self.J)
        sp = _solver_parameters(snes_type="newtonls", snes_linesearch_type="basic", snes_rtol=rtol,
                                snes_atol=atol, snes_stol=0.0, snes_max_it=max_it)
        self.solver = fd.NonlinearVariationalSolver(problem, solver_parameters=sp, nullspace=self._nullspace,
                                                    transpose_nullspace=self._nullspace)
        self._residuals = []
        self.solver.snes.setMonitor(lambda snes, it, r: self._residuals.append(float(r)))
        self._du = fd.Function(self.V)
        self._mean_forms = [self.u[n] * fd.dx(domain=mesh) for n in range(d)]
        self._tangent_ready = False

    @property
    def dofs(self) -> int:
        return self.V.dim()

    # ------------------------------------------------------------------ solve
    def _newton(self, F):
        from firedrake.exceptions import ConvergenceError
        self.Fbar.assign(F)
        self._residuals = []
        try:
            self.solver.solve()
        except ConvergenceError:
            return False
        return bool(np.all(np.isfinite(self.u.dat.data_ro)))

    def solve(self, F, *, tangent: bool = True, initial: tuple | None = None) -> CellSolution:
        """Solve the cell problem at ``F̄`` (``d × d``); ``initial = (F̄₀, raw DOFs)`` warm-starts from a
        converged state (continuation starts there instead of at ``F̄ = I``)."""
        import firedrake as fd
        t0 = time.perf_counter()
        F = check_deformation_gradient(F, self.d)
        if initial is None:
            F0, w0 = np.eye(self.d), np.zeros_like(self.u.dat.data_ro)
        else:
            F0, w0 = np.asarray(initial[0], float), np.asarray(initial[1], float)
        self.u.dat.data[:] = w0
        its, pieces, s, ds = 0, 0, 0.0, 1.0
        path = _polar_path(F0, F)
        while s < 1.0:
            t = min(1.0, s + ds)
            before = self.u.dat.data_ro.copy()
            ok = self._newton(path(t))
            its += self.solver.snes.getIterationNumber()
            if ok:
                s, pieces = t, pieces + 1
                ds = min(2 * ds, 1.0)
            else:
                self.u.dat.data[:] = before
                ds /= 2
                if ds < 0.5 ** self.max_bisections:
                    raise RuntimeError(f"F: the cell problem did not converge at F̄ = {F.tolist()} even in "
                                       f"increments of {ds * 2:.3g} of the path (residuals "
                                       f"{self._residuals[-5:]})")
        raw = self.u.dat.data_ro.copy()
        P = self._average(self._P_form, (self.d, self.d))
        A = self._tangent() if tangent else None
        out = fd.Function(self.V, name="fluctuation")
        mean = np.array([fd.assemble(f) for f in self._mean_forms]) / self.volume
        out.dat.data[:] = raw - mean
        return CellSolution(F, out, P, A, its, raw, pieces, time.perf_counter() - t0, list(self._residuals))

    def _average(self, form, shape):
        import firedrake as fd
        from mpi4py import MPI
        c = fd.assemble(form).dat.data_ro
        local = c.reshape(-1, *shape).sum(0) if c.size else np.zeros(shape)
        return self.mesh.comm.allreduce(local, op=MPI.SUM) / self.volume

    def _tangent(self):
        import firedrake as fd
        from firedrake.assemble import get_assembler
        d = self.d
        if not self._tangent_ready:
            self._A_asm = get_assembler(self.J, mat_type="aij")
            self._Amat = self._A_asm.allocate()
            self._b_asm = [get_assembler(r) for r in self._rhs]
            self._b = [fd.Cofunction(self.V.dual()) for _ in self._rhs]
            self._ls = fd.LinearSolver(self._Amat, solver_parameters=_solver_parameters(),
                                       nullspace=self._nullspace, transpose_nullspace=self._nullspace)
            self._tangent_ready = True
        self._A_asm.assemble(tensor=self._Amat)
        A = self._average(self._A_form, (d, d, d, d)).reshape(d * d, d * d)
        bs = [self._b_asm[n].assemble(tensor=self._b[n]) for n in range(d * d)]
        for kl in range(d * d):
            self._ls.solve(self._du, bs[kl])
            with self._du.dat.vec_ro as x:
                for ij in range(d * d):
                    with bs[ij].dat.vec_ro as b:
                        A[ij, kl] -= b.dot(x) / self.volume
        return A.reshape(d, d, d, d)

    # --------------------------------------------------------------- outputs
    def stress_field(self, solution: CellSolution | None = None, space=None):
        """The micro stress ``P`` (``σ`` for small strain) interpolated into ``space``
        (default: DG tensors of degree ``degree − 1``)."""
        import firedrake as fd
        if solution is not None:
            self.Fbar.assign(solution.F)
            self.u.dat.data[:] = solution.raw
        space = space or fd.TensorFunctionSpace(self.mesh, "DG", max(self.degree - 1, 0))
        return fd.Function(space, name="stress").interpolate(self.P)
