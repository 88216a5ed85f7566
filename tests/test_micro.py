"""The periodic cell problem: consistent tangent, laminate closed form, periodicity."""
import numpy as np
import pytest
import torch

fd = pytest.importorskip("firedrake")

from spon.mesh import rve_mesh  # noqa: E402
from spon.multiscale import (LinearElastic, Material, NonlinearElasticMatrix, RVEProblem,  # noqa: E402
                             equino_materials, voigt_tangent)
from spon.multiscale.laminate import laminate_stiffness  # noqa: E402
from spon.multiscale.micro import periodic_mismatch  # noqa: E402

from conftest import NEWTON_ORDER, newton_order  # noqa: E402

E0 = np.array([0.02, -0.01, 0.015])


@pytest.fixture(scope="module")
def rve():
    return RVEProblem(rve_mesh("fibre", h=0.1), equino_materials())


def _C(m):
    return voigt_tangent(m, torch.zeros(1, 3, dtype=torch.float64))[0].numpy()


def test_tangent_matches_central_differences(rve):
    sol = rve.solve(E0)
    h, Cfd = 1e-6, np.zeros((3, 3))
    for k in range(3):
        d = np.eye(3)[k] * h
        Cfd[:, k] = (rve.solve(E0 + d, tangent=False).stress - rve.solve(E0 - d, tangent=False).stress) / (2 * h)
    assert np.abs(Cfd - sol.tangent).max() < 1e-6 * np.abs(sol.tangent).max()


def test_newton_converges_quadratically(rve):
    r = rve.solve([0.03, -0.02, 0.04], tangent=False).residuals
    assert r[-1] < 1e-10 * r[0]
    assert newton_order(r) > NEWTON_ORDER, r


def test_fluctuation_is_periodic_with_zero_mean(rve):
    u = rve.solve(E0, tangent=False).fluctuation
    mesh = rve.mesh
    assert all(abs(fd.assemble(u[i] * fd.dx(domain=mesh))) < 1e-14 for i in range(2))
    jump, pairs = periodic_mismatch(u)
    assert pairs > 5
    assert jump < 1e-13 * np.abs(u.dat.data_ro).max()


def test_homogeneous_cell_returns_the_material_law():
    """One phase: σ̄ = σ(ε̄), C̄ = dσ/dε; the UFL law and the torch law agree."""
    m = NonlinearElasticMatrix()
    mesh = rve_mesh("fibre", h=0.1)
    sol = RVEProblem(mesh, {1: m, 2: m}).solve(E0)
    E = torch.tensor(E0)[None]
    assert np.allclose(sol.stress, m.stress_voigt(E)[0].numpy(), rtol=1e-12)
    assert np.allclose(sol.tangent, voigt_tangent(m, E)[0].numpy(), rtol=1e-10, atol=1e-8)
    assert np.abs(sol.fluctuation.dat.data_ro).max() < 1e-12


def test_user_material_plugs_in():
    class StVenant(Material):
        def __init__(self, lam, mu):
            self.lam, self.mu = lam, mu

        def stress(self, eps):
            import ufl
            return self.lam * ufl.tr(eps) * ufl.Identity(2) + 2 * self.mu * eps

    mesh = fd.PeriodicUnitSquareMesh(4, 4)
    x = fd.SpatialCoordinate(mesh)
    m1, m2 = StVenant(1.0, 1.0), StVenant(10.0, 5.0)
    sol = RVEProblem(mesh, {1: m1, 2: m2}, degree=1, phase=fd.conditional(x[0] < 0.5, 2.0, 1.0)).solve(E0)
    C = lambda m: np.array([[m.lam + 2 * m.mu, m.lam, 0], [m.lam, m.lam + 2 * m.mu, 0], [0, 0, m.mu]])  # noqa
    assert np.allclose(sol.tangent, laminate_stiffness(C(m1), C(m2), 0.5), rtol=1e-12)


def _laminate_error(n, f2, degree=2):
    m1, m2 = LinearElastic(4780.0, 417.0), LinearElastic(43452.38, 29918.03)
    mesh = fd.PeriodicUnitSquareMesh(n, n)
    x = fd.SpatialCoordinate(mesh)
    rve = RVEProblem(mesh, {1: m1, 2: m2}, degree=degree, phase=fd.conditional(x[0] < f2, 2.0, 1.0))
    C = rve.solve([0.01, 0.0, 0.0]).tangent
    Cex = laminate_stiffness(_C(m1), _C(m2), f2)
    return np.abs(C - Cex).max() / np.abs(Cex).max()


def test_laminate_aligned_mesh_is_exact():
    assert _laminate_error(4, 0.5, degree=1) < 1e-13


def test_laminate_error_converges_first_order():
    """Interface x = 1/3 cuts cells at the same relative position for n = 4, 16, 64."""
    errs = [_laminate_error(n, 1 / 3) for n in (4, 16, 64)]
    rates = [np.log(errs[i] / errs[i + 1]) / np.log(4) for i in range(2)]
    assert errs[-1] < 1e-2 and all(0.85 < r < 1.3 for r in rates), (errs, rates)


def test_laminate_formula_reduces_to_the_phase():
    C = _C(LinearElastic(3.0, 2.0))
    assert np.allclose(laminate_stiffness(C, 2 * C, 0.0), C)
    assert np.allclose(laminate_stiffness(C, 2 * C, 1.0), 2 * C)


def test_bad_inputs(rve):
    with pytest.raises(ValueError, match="mesh: expected a periodic"):
        RVEProblem(fd.UnitSquareMesh(2, 2), equino_materials())
    with pytest.raises(ValueError, match=r"strain: expected Voigt strain of shape \(3,\)"):
        rve.solve([0.1, 0.2])
    with pytest.raises(ValueError, match="strain: contains NaN"):
        rve.solve([np.nan, 0, 0])
    with pytest.raises(ValueError, match="materials"):
        RVEProblem(rve.mesh, {1: NonlinearElasticMatrix()})
    with pytest.raises(TypeError, match=r"materials\[2\]"):
        RVEProblem(rve.mesh, {1: NonlinearElasticMatrix(), 2: "steel"})


@pytest.mark.parametrize("material", [NonlinearElasticMatrix(), LinearElastic(43452.38, 29918.03)])
def test_closed_form_torch_tangent_matches_autodiff(material):
    E = torch.tensor([[0.02, -0.01, 0.015], [0.0, 0.0, 0.0], [-0.03, 0.04, -0.02]], dtype=torch.float64)
    auto = torch.func.vmap(torch.func.jacrev(material.stress_voigt))(E)
    assert torch.allclose(material.tangent_voigt(E), auto, rtol=1e-12, atol=1e-9)
