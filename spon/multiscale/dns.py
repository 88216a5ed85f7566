"""Direct numerical simulation (DNS): the heterogeneous structure with every inclusion resolved.

The check that FE² is worth anything: a specimen made of ``n × n`` copies of the
RVE (:func:`spon.mesh.tile_rve_msh`), solved directly with the phases' own
material laws, should approach FE² on the homogenised specimen as ``n`` grows
(scale separation). Loading matches :class:`~spon.multiscale.MacroProblem`:
``u = 0`` on ``clamped``, ``u[direction]`` prescribed on ``loaded`` (the other
component free), Newton per load step, and the reaction is the sum of the
internal nodal forces on the loaded edge.

Examples
--------
>>> import firedrake as fd
>>> from spon.mesh import rve_msh, tile_rve_msh
>>> from spon.multiscale import equino_materials
>>> mesh = fd.Mesh(str(tile_rve_msh(rve_msh("fibre", h=0.25), 2)))
>>> dns = DNSProblem(mesh, equino_materials(), degree=1)
>>> step = dns.step(0.01)
>>> step.reaction > 0, len(step.residuals) < 10
(True, True)
"""
from __future__ import annotations

import time

from .macro import LoadPath, LoadStep, check_boundary_ids
from .materials import Material
from .voigt import voigt_stress

__all__ = ["DNSProblem", "FiniteStrainDNSProblem"]


class DNSProblem(LoadPath):
    """Displacement-controlled plane-strain Newton solve of a heterogeneous specimen.

    Parameters
    ----------
    mesh : firedrake mesh whose cell regions (physical surfaces) carry the phase ids
        of ``materials`` and whose boundary ids include ``clamped`` and ``loaded``.
    materials : dict[int, Material]
        Material law per cell region id, as for :class:`~spon.multiscale.RVEProblem`.
    degree, quadrature_degree : as for the RVE problem (default 2 and ``2 (degree - 1)``),
        so a tiled specimen is discretised exactly as its cells are in FE².
    """

    def __init__(self, mesh, materials: dict, *, clamped=1, loaded=2, direction: int = 0, degree: int = 2,
                 quadrature_degree: int | None = None, rtol: float = 1e-9, atol: float = 1e-9,
                 max_it: int = 30):
        import firedrake as fd
        import ufl

        if not isinstance(mesh, fd.MeshGeometry) or mesh.geometric_dimension != 2:
            raise TypeError(f"mesh: expected a 2D firedrake mesh, got {type(mesh).__name__}")
        check_boundary_ids(mesh, clamped=clamped, loaded=loaded)
        if direction not in (0, 1):
            raise ValueError(f"direction: expected 0 (x) or 1 (y), got {direction!r}")
        if not isinstance(materials, dict) or not materials:
            raise TypeError("materials: expected a dict {cell region id: Material}")
        regions = set(int(i) for i in mesh.topology_dm.getLabelIdIS("Cell Sets").indices)
        for k, m in materials.items():
            if not isinstance(m, self._law_type()):
                raise TypeError(f"materials[{k}]: expected a spon.multiscale.{self._law_type().__name__}, got "
                                f"{type(m).__name__}")
            if k not in regions:
                raise ValueError(f"materials: region id {k} is not a cell region of the mesh "
                                 f"(regions: {sorted(regions)})")
        if regions - set(materials):
            raise ValueError(f"materials: cell regions {sorted(regions - set(materials))} have no material")
        self.mesh, self.materials, self.direction = mesh, dict(materials), direction
        self.qdeg = quadrature_degree if quadrature_degree is not None else max(1, 2 * (degree - 1))
        self.V = fd.VectorFunctionSpace(mesh, "CG", degree)
        self.u = fd.Function(self.V, name="displacement")
        v = fd.TestFunction(self.V)
        self._sigma = self._stresses(self.u)
        self.F = sum(ufl.inner(s, self._test_gradient(v)) * fd.dx(k, domain=mesh, degree=self.qdeg)
                     for k, s in self._sigma.items())
        from ..fem.solve import lu_parameters
        self._load, self._inc = fd.Constant(0.0), fd.Constant(0.0)
        zero = fd.Constant((0.0, 0.0))
        bcs = [fd.DirichletBC(self.V, zero, clamped), fd.DirichletBC(self.V.sub(direction), self._load, loaded)]
        self.loaded_nodes = bcs[1].nodes
        # tangent predictor: J(u_n) δu = -F(u_n) with δu = the load increment on the loaded edge
        self._du = fd.Function(self.V)
        self._predictor = fd.LinearVariationalSolver(
            fd.LinearVariationalProblem(fd.derivative(self.F, self.u, fd.TrialFunction(self.V)), -self.F,
                                        self._du, [fd.DirichletBC(self.V, zero, clamped),
                                                   fd.DirichletBC(self.V.sub(direction), self._inc, loaded)]),
            solver_parameters=lu_parameters(mat_type="aij"))
        sp = lu_parameters(mat_type="aij", snes_type="newtonls", snes_linesearch_type="basic", snes_rtol=rtol,
                           snes_atol=atol, snes_stol=0.0, snes_max_it=max_it)
        problem = fd.NonlinearVariationalProblem(self.F, self.u, bcs, J=fd.derivative(self.F, self.u))
        self.solver = fd.NonlinearVariationalSolver(problem, solver_parameters=sp)
        self._res = []
        self.solver.snes.setMonitor(lambda snes, it, r: self._res.append(float(r)))
        self.displacement = 0.0
        self.history: list[LoadStep] = []
        self._path_desc = f"DNS load steps ({self.V.dim()} DOFs)"

    @staticmethod
    def _law_type():
        return Material

    def _stresses(self, u):
        import ufl
        eps = ufl.sym(ufl.grad(u))
        return {k: m.stress(eps) for k, m in self.materials.items()}

    @staticmethod
    def _test_gradient(v):
        import ufl
        return ufl.sym(ufl.grad(v))

    def step(self, displacement: float) -> LoadStep:
        """Newton at the prescribed edge displacement, from the tangent predictor (as :class:`MacroProblem`)."""
        from firedrake.exceptions import ConvergenceError
        t0 = time.perf_counter()
        self._inc.assign(displacement - self.displacement)
        self._predictor.solve()
        self.u += self._du
        self._load.assign(displacement)
        self._res = []
        try:
            self.solver.solve()
        except ConvergenceError as e:
            raise RuntimeError(f"displacement: the DNS did not converge at {displacement} "
                               f"(residuals {self._res}): {e}") from None
        self.displacement = displacement
        st = LoadStep(displacement, self.reaction(), list(self._res[1:]), time.perf_counter() - t0)
        self.history.append(st)
        return st

    def stress_output(self, degree: int = 0):
        """The microscale stress ``(σ_xx, σ_yy, σ_xy)`` projected cell-wise to DG (for VTK)."""
        import firedrake as fd
        W = fd.VectorFunctionSpace(self.mesh, "DG", degree, dim=3)
        out = fd.Function(W, name="stress")
        s, t = fd.TrialFunction(W), fd.TestFunction(W)
        dx = fd.dx(domain=self.mesh, degree=self.qdeg)
        rhs = sum(fd.inner(voigt_stress(sig), t) * fd.dx(k, domain=self.mesh, degree=self.qdeg)
                  for k, sig in self._sigma.items())
        fd.solve(fd.inner(s, t) * dx == rhs, out)
        return out


class FiniteStrainDNSProblem(DNSProblem):
    """The DNS at finite strain: total Lagrangian, each region's :class:`~spon.multiscale.HyperelasticLaw`,
    ``∫ P(I + ∇u) : ∇v = 0``; loading, Newton and the reaction as :class:`DNSProblem`.
    :meth:`stress_output` gives ``(P_xx, P_yy, P_xy)``."""

    @staticmethod
    def _law_type():
        from .hyperelastic import HyperelasticLaw
        return HyperelasticLaw

    def _stresses(self, u):
        import ufl
        F = ufl.variable(ufl.Identity(2) + ufl.grad(u))
        return {k: ufl.diff(m.energy(F), F) for k, m in self.materials.items()}

    @staticmethod
    def _test_gradient(v):
        import ufl
        return ufl.grad(v)
