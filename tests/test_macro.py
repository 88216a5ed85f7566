"""Macro plane-strain Newton with quadrature-point materials: quadratic convergence, FE² reference."""
import numpy as np
import pytest

fd = pytest.importorskip("firedrake")

from spon.mesh import gmsh_mesh, rve_mesh  # noqa: E402
from spon.multiscale import (LinearElastic, NonlinearElasticMatrix, RVEProblem,  # noqa: E402
                             equino_materials)
from spon.multiscale.macro import FE2Material, LawMaterial, MacroProblem  # noqa: E402

from conftest import NEWTON_ORDER, newton_order  # noqa: E402


def test_newton_order_estimate_tells_quadratic_from_linear():
    assert newton_order([1, 1e-1, 1e-3, 1e-7]) > 1.9
    assert newton_order([1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5]) < 1.1    # linear, rate 0.1


@pytest.fixture(scope="module")
def cook():
    return gmsh_mesh("cook_membrane", h=20.0)


def test_linear_material_converges_in_one_newton_step(cook):
    mp = MacroProblem(cook, LawMaterial(LinearElastic(4780.0, 417.0)))
    st = mp.step(1.0)
    assert len(st.residuals) == 1 and st.residuals[0] < 1e-9


def test_newton_is_quadratic_with_the_nonlinear_law(cook):
    mp = MacroProblem(cook, LawMaterial(NonlinearElasticMatrix()))
    for d in (1.0, 2.0):
        r = mp.step(d).residuals
        assert r[-1] < 1e-9 * r[0]
        assert newton_order(r) > NEWTON_ORDER, r


def test_reaction_matches_single_scale_when_the_rve_is_homogeneous(cook):
    """FE² with a one-phase RVE must reproduce the single-scale solution."""
    m = NonlinearElasticMatrix()
    ref = MacroProblem(cook, LawMaterial(m), degree=1)
    fe2 = MacroProblem(cook, FE2Material(RVEProblem(rve_mesh("fibre", h=0.2), {1: m, 2: m}, degree=1)),
                       degree=1)
    for p in (ref, fe2):
        p.solve([1.0], progress=False)
    assert abs(fe2.history[-1].reaction - ref.history[-1].reaction) < 1e-8 * abs(ref.history[-1].reaction)
    r = fe2.history[-1].residuals
    assert r[-1] < 1e-9 * r[0] and len(r) <= 5


def test_fe2_newton_is_quadratic_with_the_composite_rve(cook):
    rve = RVEProblem(rve_mesh("fibre", h=0.2), equino_materials(), degree=1)
    mat = FE2Material(rve)
    mp = MacroProblem(cook, mat, degree=1)
    r = mp.step(1.0).residuals
    assert r[-1] < 1e-9 * r[0]
    assert newton_order(r) > NEWTON_ORDER, r
    assert mat.stats()["micro_solves"] == mp.n_quadrature_points * (len(r) + 1)


def test_bad_inputs(cook):
    with pytest.raises(ValueError, match="clamped: boundary id 7"):
        MacroProblem(cook, LawMaterial(LinearElastic(1.0, 1.0)), clamped=7)
    with pytest.raises(TypeError, match="material: expected a QuadratureMaterial"):
        MacroProblem(cook, LinearElastic(1.0, 1.0))
    with pytest.raises(ValueError, match="displacements"):
        MacroProblem(cook, LawMaterial(LinearElastic(1.0, 1.0))).solve([np.nan])


def test_l_profile_bends_and_converges():
    mesh = gmsh_mesh("l_profile", h=25.0)
    assert sorted(mesh.exterior_facets.unique_markers) == [1, 2, 3]
    mp = MacroProblem(mesh, LawMaterial(NonlinearElasticMatrix()), degree=1)
    hist = mp.solve([0.5, 1.0], progress=False)
    assert 0 < hist[0].reaction < hist[1].reaction < 2 * hist[0].reaction   # softening under load
    assert all(s.residuals[-1] < 1e-9 * s.residuals[0] for s in hist)
