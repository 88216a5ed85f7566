"""Incompressible Navier–Stokes on the DFG cylinder channel (Schäfer & Turek 1996).

``∂u/∂t + (u·∇)u − ν Δu + ∇p = 0``, ``div u = 0`` in the channel
[0, 2.2] × [0, 0.41] around a cylinder of radius 0.05 at (0.2, 0.2); parabolic
inflow ``u = (4 U_m y (H − y) / H², 0)``, no-slip on the walls and the
cylinder, do-nothing outflow; ν = 1e-3, ρ = 1. Taylor–Hood P2–P1.

* steady flow: Newton with a direct solver (MUMPS), continued from a
  previous solution when one is given;
* unsteady flow: BDF2 (BDF1 for the first step), every step solved by Newton;
* drag and lift coefficients by the volume integral of the residual against a
  velocity that is 1 (in x, resp. y) on the cylinder and 0 on the other
  boundaries, which converges at the rate of the solution rather than of its
  boundary traces:

  ``F_i = −R((u, p); (w_i, 0))``, ``C_i = 2 F_i / (Ū² D)``, ``Ū = 2 U_m / 3``, ``D = 0.1``.

The published 2D-1 values (U_m = 0.3, Re = 20, steady) are
``C_D = 5.57953523384`` and ``C_L = 0.010618948146``.
"""
from __future__ import annotations

import firedrake as fd

from ..fem.solve import lu_parameters
from ..mesh.spec import MeshSpec, build_hierarchy

__all__ = ["DFG_2D1", "DFG_2D2", "navier_stokes_residual", "DFGChannel", "strouhal"]

DFG_2D1 = {"U_m": 0.3, "cd": 5.57953523384, "cl": 0.010618948146}
# 2D-2 (periodic): the published ranges; St = 0.2950-0.3050, max C_L = 0.99-1.01
DFG_2D2 = {"U_m": 1.5, "strouhal": 0.30, "cl_max": 1.0}
INFLOW, OUTFLOW, WALLS, CYLINDER = 1, 2, 3, 4
H, D = 0.41, 0.1
CENTRE = (0.2, 0.2)


def navier_stokes_residual(u, p, v, q, nu, f=None):
    """The steady weak residual ``ν ∇u:∇v + (u·∇)u·v − p div v − q div u − f·v``."""
    F = (nu * fd.inner(fd.grad(u), fd.grad(v)) + fd.inner(fd.dot(fd.grad(u), u), v)
         - p * fd.div(v) - q * fd.div(u)) * fd.dx
    return F if f is None else F - fd.inner(f, v) * fd.dx


def _newton_parameters():
    return {"snes_type": "newtonls", "snes_linesearch_type": "basic", "snes_rtol": 1e-11, "snes_atol": 1e-12,
            "snes_max_it": 30, **lu_parameters()}


class DFGChannel:
    """The DFG benchmark channel on ``MeshSpec("dfg_cylinder", h, refinements)``.

    Parameters
    ----------
    mesh_spec : the mesh (its finest level is used)
    nu : kinematic viscosity (1e-3 in the benchmark)
    comm : MPI communicator of the mesh
    """

    def __init__(self, mesh_spec: MeshSpec | None = None, nu: float = 1e-3, comm=None):
        self.mesh_spec = mesh_spec or MeshSpec("dfg_cylinder", 0.04, 0)
        self.mesh = build_hierarchy(self.mesh_spec, comm)[-1]
        self.V = fd.VectorFunctionSpace(self.mesh, "CG", 2)
        self.Q = fd.FunctionSpace(self.mesh, "CG", 1)
        self.W = self.V * self.Q
        self.nu = fd.Constant(nu)
        self.U_m = fd.Constant(0.3)
        x, y = fd.SpatialCoordinate(self.mesh)
        self.inflow_profile = fd.as_vector([4 * self.U_m * y * (H - y) / H ** 2, 0])
        self.w = fd.Function(self.W, name="state")
        self.bcs = [fd.DirichletBC(self.W.sub(0), self.inflow_profile, INFLOW),
                    fd.DirichletBC(self.W.sub(0), fd.Constant((0.0, 0.0)), (WALLS, CYLINDER))]
        u, p = fd.split(self.w)
        v, q = fd.TestFunctions(self.W)
        self._residual = navier_stokes_residual(u, p, v, q, self.nu)
        problem = fd.NonlinearVariationalProblem(self._residual, self.w, bcs=self.bcs)
        self._steady = fd.NonlinearVariationalSolver(problem, solver_parameters=_newton_parameters())
        # the force test velocities: 1 on the cylinder (in x, in y), 0 on every other boundary
        self._force_dirs = []
        for e in ((1.0, 0.0), (0.0, 1.0)):
            wi = fd.Function(self.W)
            fd.DirichletBC(self.W.sub(0), fd.Constant(e), CYLINDER).apply(wi)
            self._force_dirs.append(wi)
        self._unsteady = None
        self._from_velocity = None

    @property
    def dofs(self) -> int:
        return self.W.dim()

    def solve_steady(self, U_m: float, initial=None) -> fd.Function:
        """Steady flow at peak inflow ``U_m`` (Newton from ``initial``, else from the last state)."""
        self.U_m.assign(U_m)
        if initial is not None:
            self.w.assign(initial)
        self._steady.solve()
        return self.w

    def coefficients(self, w=None, residual=None) -> tuple[float, float]:
        """``(C_D, C_L)`` of state ``w`` from the volume integral of the residual."""
        w = self.w if w is None else w
        U_bar = 2.0 * float(self.U_m) / 3.0
        F = residual if residual is not None else self._residual
        F = fd.replace(F, {self.w: w}) if w is not self.w else F
        r = fd.assemble(F)
        forces = [-_dot(r, wi) for wi in self._force_dirs]
        return tuple(2.0 * f / (U_bar ** 2 * D) for f in forces)

    # --- unsteady flow -------------------------------------------------------------
    def start_unsteady(self, dt: float, initial=None):
        """Set up BDF2 time stepping from ``initial`` (default: rest)."""
        self.dt = fd.Constant(dt)
        self.w_old, self.w_older = fd.Function(self.W), fd.Function(self.W)
        if initial is not None:
            self.w.assign(initial)
        else:
            self.w.zero()
        self.w_old.assign(self.w)
        self.w_older.assign(self.w)
        self._bdf2 = fd.Constant(0.0)      # 0: BDF1 for the first step, 1: BDF2
        u, p = fd.split(self.w)
        u1, u2 = fd.split(self.w_old)[0], fd.split(self.w_older)[0]
        v, q = fd.TestFunctions(self.W)
        b = self._bdf2
        dudt = ((1 + b / 2) * u - (1 + b) * u1 + (b / 2) * u2) / self.dt
        self._unsteady_residual = fd.inner(dudt, v) * fd.dx + navier_stokes_residual(u, p, v, q, self.nu)
        problem = fd.NonlinearVariationalProblem(self._unsteady_residual, self.w, bcs=self.bcs)
        self._unsteady = fd.NonlinearVariationalSolver(problem, solver_parameters=_newton_parameters())
        self.time, self.steps = 0.0, 0
        return self

    def step(self) -> fd.Function:
        """One BDF step; returns the new state."""
        if self._unsteady is None:
            raise RuntimeError("step: call start_unsteady(dt) first")
        self.w_older.assign(self.w_old)
        self.w_old.assign(self.w)
        self._unsteady.solve()
        self._bdf2.assign(1.0)
        self.time += float(self.dt)
        self.steps += 1
        return self.w

    def unsteady_coefficients(self) -> tuple[float, float]:
        """``(C_D, C_L)`` of the current time step (the time derivative included)."""
        return self.coefficients(self.w, residual=self._unsteady_residual)

    def coefficients_from_velocities(self, u, u_old, u_older, dt: float) -> tuple[float, float]:
        """``(C_D, C_L)`` at the newest of three velocities ``dt`` apart (flat, node-major, as
        :meth:`velocity`), with no pressure given: for a learned velocity rollout.

        ``∂u/∂t`` is BDF2's ``(3u − 4u_old + u_older) / (2 dt)``. The pressure is the one that
        fits the momentum equation best: ``p`` minimising ``‖r_u − Bᵀp‖`` in the dual L² norm
        over velocities with zero Dirichlet data, where ``r_u`` is the residual without
        pressure. That is one Taylor–Hood saddle-point solve with a mass block (``M δ + Bᵀp =
        r_u``, ``B δ = 0``), factorised once. For a velocity of this solver's own BDF2 steps
        the momentum equation holds exactly, so ``δ = 0``, ``p`` is its pressure and the
        coefficients are :meth:`unsteady_coefficients`'.
        """
        if self._from_velocity is None:
            self._from_velocity = self._pressure_fit()
        fit = self._from_velocity
        for f, x, name in zip(fit["u"], (u, u_old, u_older), ("u", "u_old", "u_older")):
            x = x.detach().cpu().numpy() if hasattr(x, "detach") else x
            if x.size != self.V.dim():
                raise ValueError(f"{name}: expected {self.V.dim()} velocity values (node-major), got {x.size}")
            f.dat.data[:] = x.reshape(-1, 2)
        fit["dt"].assign(dt)
        fit["solver"].solve()
        fit["w"].subfunctions[1].assign(fit["fitted"].subfunctions[1])
        return self.coefficients(fit["w"], residual=fit["residual"])

    def _pressure_fit(self) -> dict:
        w = fd.Function(self.W)                    # (u, p): u given, p the fitted pressure
        u, p = fd.split(w)
        u1, u2 = fd.Function(self.V), fd.Function(self.V)
        dt = fd.Constant(1.0)
        v, q = fd.TestFunctions(self.W)
        bdf2 = fd.inner((3 * u - 4 * u1 + u2) / (2 * dt), v) * fd.dx
        residual = bdf2 + navier_stokes_residual(u, p, v, q, self.nu)
        r_u = bdf2 + navier_stokes_residual(u, 0, v, 0, self.nu)          # without pressure and continuity
        # M δ + (p, div v) = r_u, (q, div δ) = 0: δ = 0 and p the pressure when r_u = (p, div v) on V_0
        d, p_fit = fd.TrialFunctions(self.W)
        a = (fd.inner(d, v) + p_fit * fd.div(v) + q * fd.div(d)) * fd.dx
        fitted = fd.Function(self.W)
        zero = fd.DirichletBC(self.W.sub(0), fd.Constant((0.0, 0.0)), (INFLOW, WALLS, CYLINDER))
        problem = fd.LinearVariationalProblem(a, r_u, fitted, bcs=zero, constant_jacobian=True)
        solver = fd.LinearVariationalSolver(problem, solver_parameters=lu_parameters())
        return {"u": (w.subfunctions[0], u1, u2), "dt": dt, "solver": solver, "fitted": fitted, "w": w,
                "residual": residual}

    def velocity_boundary_dofs(self):
        """Flat indices (node-major, interleaved) of the velocity DOFs with Dirichlet data:
        inflow, walls and cylinder."""
        import numpy as np
        import torch

        nodes = np.unique(np.concatenate([bc.nodes for bc in self.bcs]))
        return torch.as_tensor((2 * nodes[:, None] + np.arange(2)).reshape(-1))

    def stream_function_data(self, Z, cylinder: float, U_m: float = 1.0):
        """Boundary data on a scalar CG space ``Z`` of the stream function ψ of the
        channel's flow (``u = curl ψ = (∂ψ/∂y, −∂ψ/∂x)``) at peak inflow ``U_m``:
        ``ψ(y) = ∫₀^y u_in`` on the inflow, 0 on the bottom wall, the whole flux
        ``(2/3) U_m H`` on the top wall, and ``U_m · cylinder`` on the cylinder
        (``cylinder``: the flux between the bottom wall and the cylinder at
        ``U_m = 1``, see :meth:`flux_below_cylinder`). The interior values
        are the inflow's ψ extended in x (a Dirichlet decoder reads only the boundary)."""
        y = fd.SpatialCoordinate(self.mesh)[1]
        psi = fd.Function(Z).interpolate(4 * U_m * (H * y ** 2 / 2 - y ** 3 / 3) / H ** 2)
        fd.DirichletBC(Z, U_m * cylinder, CYLINDER).apply(psi)
        return psi

    def flux_below_cylinder(self, u, points: int = 200) -> float:
        """``∫ u_x dy`` across the gap between the bottom wall and the cylinder, on the
        vertical line through its centre (Gauss–Legendre, ``points`` nodes), for a
        continuous velocity ``u`` such as Taylor–Hood's."""
        import numpy as np

        t, w = np.polynomial.legendre.leggauss(points)
        gap = CENTRE[1] - D / 2
        ys = gap * (t + 1) / 2
        pts = np.column_stack([np.full_like(ys, CENTRE[0]), ys])
        vals = np.asarray(fd.PointEvaluator(self.mesh, pts).evaluate(u))[:, 0]
        return float(gap / 2 * np.dot(w, vals))

    def velocity(self):
        """The velocity of the current state as a flat tensor (node-major, interleaved)."""
        import torch
        return torch.as_tensor(self.w.subfunctions[0].dat.data_ro.copy()).reshape(-1)


def strouhal(times, signal, U_bar: float, diameter: float = D) -> tuple[float, float]:
    """``(St, amplitude)`` of a periodic signal: the frequency from the mean spacing of its
    upward zero crossings (about its mean, linearly interpolated), ``St = f D / Ū``; the
    amplitude is half its peak-to-peak range."""
    import numpy as np

    t, s = np.asarray(times, dtype=float), np.asarray(signal, dtype=float)
    c = s - s.mean()
    up = np.flatnonzero((c[:-1] < 0) & (c[1:] >= 0))
    if len(up) < 2:
        raise ValueError("signal: expected at least two periods to measure a frequency")
    tc = t[up] - c[up] * (t[up + 1] - t[up]) / (c[up + 1] - c[up])
    period = (tc[-1] - tc[0]) / (len(tc) - 1)
    return diameter / (period * U_bar), 0.5 * (s.max() - s.min())


def _dot(r, w):
    with r.dat.vec_ro as a, w.dat.vec_ro as b:
        return a.dot(b)
