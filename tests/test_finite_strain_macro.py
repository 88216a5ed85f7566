"""Total Lagrangian macro Newton with quadrature-point materials: equals Firedrake's own hyperelastic
solve, quadratic Newton, FE² with a one-phase cell equals single scale, 3D."""
import numpy as np
import pytest

fd = pytest.importorskip("firedrake")

from spon.mesh import gmsh_mesh, rve_mesh  # noqa: E402
from spon.multiscale import FiniteStrainRVEProblem, MooneyRivlin, NeoHookean  # noqa: E402
from spon.multiscale.total_lagrangian import (FiniteStrainFE2Material, FiniteStrainMacroProblem,  # noqa: E402
                                              HyperelasticLawMaterial)

from conftest import NEWTON_ORDER, newton_order  # noqa: E402

LAW = MooneyRivlin(150.0, 58.5, 4500.0)


@pytest.fixture(scope="module")
def cook():
    return gmsh_mesh("cook_membrane", h=12.0)


def firedrake_solution(mesh, law, disp, direction=1, clamped=1, loaded=2, degree=2):
    """The same discrete problem written directly in UFL and solved by Firedrake's Newton."""
    V = fd.VectorFunctionSpace(mesh, "CG", degree)
    u, v = fd.Function(V), fd.TestFunction(V)
    d = mesh.geometric_dimension
    F = fd.variable(fd.Identity(d) + fd.grad(u))
    P = fd.diff(law.energy(F), F)
    R = fd.inner(P, fd.grad(v)) * fd.dx(degree=2 * (degree - 1))
    zero = fd.Constant(np.zeros(d))
    for t in disp:
        bcs = [fd.DirichletBC(V, zero, clamped), fd.DirichletBC(V.sub(direction), t, loaded)]
        fd.solve(R == 0, u, bcs=bcs, solver_parameters={"snes_rtol": 1e-12, "snes_atol": 1e-11,
                                                        "ksp_type": "preonly", "pc_type": "lu"})
    return u


def test_equals_firedrakes_own_hyperelastic_solve(cook):
    """Large deflection (12 mm on Cook's 44 mm edge): same displacement to solver tolerance."""
    path = [4.0, 8.0, 12.0]
    mp = FiniteStrainMacroProblem(cook, HyperelasticLawMaterial(LAW))
    mp.solve(path, progress=False)
    ref = firedrake_solution(cook, LAW, np.arange(1.0, 12.5))   # plain Newton needs smaller steps
    err = np.abs(mp.u.dat.data_ro - ref.dat.data_ro).max()
    assert err < 1e-8 * np.abs(ref.dat.data_ro).max(), err
    assert mp.stretch_max > 0.1      # really finite strain


def test_newton_is_quadratic(cook):
    mp = FiniteStrainMacroProblem(cook, HyperelasticLawMaterial(LAW))
    for t in (5.0, 10.0):
        r = mp.step(t).residuals
        assert r[-1] < 1e-9 * r[0] and newton_order(r) > NEWTON_ORDER, r


def test_fe2_with_a_one_phase_cell_is_single_scale(cook):
    rve = FiniteStrainRVEProblem(rve_mesh("fibre", h=0.3), {1: LAW, 2: LAW}, degree=1)
    fe2 = FiniteStrainMacroProblem(cook, FiniteStrainFE2Material(rve), degree=1)
    ref = FiniteStrainMacroProblem(cook, HyperelasticLawMaterial(LAW), degree=1)
    for p in (fe2, ref):
        p.solve([6.0], progress=False)
    assert abs(fe2.history[-1].reaction - ref.history[-1].reaction) < 1e-8 * abs(ref.history[-1].reaction)
    r = fe2.history[-1].residuals
    assert newton_order(r) > NEWTON_ORDER, r


def test_3d_bar_equals_firedrakes_own_solve():
    mesh = fd.BoxMesh(6, 2, 2, 3.0, 1.0, 1.0)    # x = 0 is face 1, x = 3 is face 2
    law = NeoHookean(1.0, 4.0)
    mp = FiniteStrainMacroProblem(mesh, HyperelasticLawMaterial(law), direction=2, degree=1)
    mp.solve([0.3, 0.6], progress=False)
    ref = firedrake_solution(mesh, law, [0.3, 0.6], direction=2, degree=1)
    assert np.abs(mp.u.dat.data_ro - ref.dat.data_ro).max() < 1e-8 * np.abs(ref.dat.data_ro).max()


def test_bad_inputs(cook):
    with pytest.raises(TypeError, match="material"):
        FiniteStrainMacroProblem(cook, LAW)
    with pytest.raises(ValueError, match="direction"):
        FiniteStrainMacroProblem(cook, HyperelasticLawMaterial(LAW), direction=2)
    with pytest.raises(ValueError, match="loaded"):
        FiniteStrainMacroProblem(cook, HyperelasticLawMaterial(LAW), loaded=99)
