"""The finite-strain cell problem: tangents, frame indifference, one phase, small-strain limit, laminates."""
import numpy as np
import pytest
import torch

fd = pytest.importorskip("firedrake")

from spon.mesh import rve_mesh  # noqa: E402
from spon.multiscale import (FiniteStrainRVEProblem, LinearElastic, MooneyRivlin, NeoHookean,  # noqa: E402
                             RVEProblem, UserHyperelastic, finite_strain_laminate)
from spon.multiscale.hyperelastic import log  # noqa: E402
from spon.multiscale.micro import periodic_mismatch  # noqa: E402

from conftest import NEWTON_ORDER, newton_order  # noqa: E402

MATRIX, FIBRE = MooneyRivlin(150.0, 58.5, 4500.0), NeoHookean(29918.0, 23507.0)
F2 = np.array([[1.25, 0.1], [-0.05, 0.9]])
F3 = np.array([[1.15, 0.05, 0.0], [-0.04, 0.92, 0.06], [0.03, 0.0, 1.05]])


def rotation(d, seed=0):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    Q[:, 0] *= np.sign(np.linalg.det(Q))
    return Q


@pytest.fixture(scope="module")
def rve2():
    return FiniteStrainRVEProblem(rve_mesh("fibre", h=0.1), {1: MATRIX, 2: FIBRE})


@pytest.fixture(scope="module")
def rve3():
    mesh = fd.PeriodicUnitCubeMesh(3, 3, 3)
    x = fd.SpatialCoordinate(mesh)
    ball = fd.conditional(fd.lt((x[0] - 0.5) ** 2 + (x[1] - 0.5) ** 2 + (x[2] - 0.5) ** 2, 0.1), 2.0, 1.0)
    return FiniteStrainRVEProblem(mesh, {1: MATRIX, 2: FIBRE}, phase=ball)


def central_difference_tangent(rve, F, sol, h=1e-6):
    d = len(F)
    A = np.zeros((d, d, d, d))
    for k in range(d):
        for l in range(d):
            E = np.zeros((d, d))
            E[k, l] = h
            A[:, :, k, l] = (rve.solve(F + E, tangent=False, initial=(F, sol.raw)).stress
                             - rve.solve(F - E, tangent=False, initial=(F, sol.raw)).stress) / (2 * h)
    return A


@pytest.mark.parametrize("law", [NeoHookean(2.0, 5.0), MooneyRivlin(1.0, 0.5, 4.0)], ids=["neo_hookean", "mooney"])
@pytest.mark.parametrize("d", [2, 3])
def test_torch_twin_equals_the_ufl_energy(law, d):
    mesh = fd.UnitSquareMesh(1, 1) if d == 2 else fd.UnitCubeMesh(1, 1, 1)
    F = (F2 if d == 2 else F3)
    Fc = fd.Constant(F)
    Fv = fd.variable(Fc)
    P_ufl = fd.diff(law.energy(Fv), Fv)
    T = fd.TensorFunctionSpace(mesh, "DG", 0)
    P_fe = fd.Function(T).interpolate(P_ufl).dat.data_ro[0]
    Ft = torch.tensor(F)[None]
    assert abs(fd.assemble(law.energy(Fc) * fd.dx(domain=mesh)) - float(law.energy_torch(Ft)[0])) < 1e-12
    assert np.allclose(law.stress_torch(Ft)[0].numpy(), P_fe, rtol=1e-13, atol=1e-13)


def test_tangent_matches_central_differences_2d(rve2):
    sol = rve2.solve(F2)
    A = central_difference_tangent(rve2, F2, sol)
    assert np.abs(A - sol.tangent).max() < 1e-7 * np.abs(sol.tangent).max()


def test_tangent_matches_central_differences_3d(rve3):
    sol = rve3.solve(F3)
    A = central_difference_tangent(rve3, F3, sol)
    assert np.abs(A - sol.tangent).max() < 1e-7 * np.abs(sol.tangent).max()


def test_tangent_is_major_symmetric(rve3):
    A = rve3.solve(F3).tangent.reshape(9, 9)
    assert np.abs(A - A.T).max() < 1e-9 * np.abs(A).max()


@pytest.mark.parametrize("dim", [2, 3])
def test_frame_indifference(rve2, rve3, dim):
    """P̄(QF̄) = Q P̄(F̄) and Ā(QF̄) = Q ⋆ Ā(F̄), to solver tolerance."""
    rve, F = (rve2, F2) if dim == 2 else (rve3, F3)
    Q = rotation(dim, seed=dim)
    a, b = rve.solve(F), rve.solve(Q @ F)
    assert np.abs(b.stress - Q @ a.stress).max() < 1e-9 * np.abs(a.stress).max()
    rotated = np.einsum("ia,ajkl,kb->ijbl", Q, a.tangent, Q.T)   # A(QF)_ijkl = Q_ia A_ajbl Q_kb
    assert np.abs(b.tangent - rotated).max() < 1e-8 * np.abs(a.tangent).max()


@pytest.mark.parametrize("dim", [2, 3])
def test_one_phase_cell_is_the_homogeneous_law(dim):
    mesh = rve_mesh("fibre", h=0.2) if dim == 2 else fd.PeriodicUnitCubeMesh(3, 3, 3)
    F = F2 if dim == 2 else F3
    phase = None if dim == 2 else fd.Constant(1.0)
    sol = FiniteStrainRVEProblem(mesh, {1: MATRIX, 2: MATRIX} if dim == 2 else {1: MATRIX}, phase=phase).solve(F)
    Ft = torch.tensor(F)[None]
    assert np.allclose(sol.stress, MATRIX.stress_torch(Ft)[0].numpy(), rtol=1e-12, atol=1e-10)
    assert np.allclose(sol.tangent, MATRIX.tangent_torch(Ft)[0].numpy(), rtol=1e-11, atol=1e-8)
    assert np.abs(sol.fluctuation.dat.data_ro).max() < 1e-12


def _voigt(A):
    """The Voigt (ε_xx, ε_yy, γ_xy) stiffness of a 2D tangent ∂σ/∂H (minor-symmetric in kl)."""
    idx = [(0, 0), (1, 1), (0, 1)]
    return np.array([[A[i, j, k, l] for k, l in idx] for i, j in idx])


def test_small_strain_limit_equals_the_small_strain_cell(rve2):
    """At F̄ = I the finite-strain tangent is the small-strain C̄; with the phases' linear laws the
    existing small-strain RVEProblem gives the same C̄; and P̄(I + tH) / t → C̄ : H."""
    mesh = rve2.mesh
    A = rve2.solve(np.eye(2)).tangent
    small = FiniteStrainRVEProblem(mesh, rve2.materials, kinematics="small").solve(np.eye(2)).tangent
    assert np.abs(A - small).max() < 1e-10 * np.abs(A).max()
    lin = {k: LinearElastic(K=m.lmbda0 + 2 * m.mu0 / 3, G=m.mu0) for k, m in rve2.materials.items()}
    C = RVEProblem(mesh, lin).solve([0.0, 0.0, 0.0]).tangent
    assert np.abs(_voigt(A) - C).max() < 1e-10 * np.abs(C).max()
    H = np.array([[0.3, 0.2], [-0.1, 0.5]])
    errs = [np.abs(rve2.solve(np.eye(2) + t * H, tangent=False).stress / t - np.einsum("ijkl,kl->ij", A, H)).max()
            for t in (1e-3, 1e-4)]
    assert errs[1] < 0.15 * errs[0] and errs[1] < 1e-3 * np.abs(A).max()   # O(t)


@pytest.mark.parametrize("dim", [2, 3])
def test_laminate_matches_the_rank_one_connected_answer(dim):
    """Layers x < 1/2 aligned with the mesh: the FE solution is the exact piecewise-homogeneous one."""
    mesh = fd.PeriodicUnitSquareMesh(4, 4) if dim == 2 else fd.PeriodicUnitCubeMesh(4, 4, 4)
    x = fd.SpatialCoordinate(mesh)
    rve = FiniteStrainRVEProblem(mesh, {1: MATRIX, 2: FIBRE}, degree=1, phase=fd.conditional(x[0] < 0.5, 2.0, 1.0))
    F = F2 if dim == 2 else F3
    P, c = finite_strain_laminate(MATRIX, FIBRE, 0.5, F)
    assert np.abs(c).max() > 0.05       # the phases really deform differently
    assert np.abs(rve.solve(F, tangent=False).stress - P).max() < 1e-10 * np.abs(P).max()


def test_newton_converges_quadratically(rve2):
    r = rve2.solve(F2, tangent=False).residuals
    assert r[-1] < 1e-10 * r[0] and newton_order(r) > NEWTON_ORDER, r


def test_fluctuation_is_periodic_with_zero_mean(rve2):
    w = rve2.solve(F2, tangent=False).fluctuation
    assert all(abs(fd.assemble(w[i] * fd.dx(domain=rve2.mesh))) < 1e-14 for i in range(2))
    jump, pairs = periodic_mismatch(w)
    assert pairs > 5 and jump < 1e-13 * np.abs(w.dat.data_ro).max()


def test_large_stretch_is_reached_by_continuation(rve2):
    sol = rve2.solve(np.array([[1.5, 0.3], [0.0, 0.8]]), tangent=False)
    assert sol.substeps >= 1 and np.isfinite(sol.stress).all() and sol.stress[0, 0] > 0


def test_user_energy_plugs_in():
    """A user's neo-Hookean energy written once for UFL and torch equals the built-in law."""
    mu, lm = 3.0, 7.0
    user = UserHyperelastic(lambda i1, trC2, lnJ: mu / 2 * (i1 - 3 - 2 * lnJ) + lm / 2 * lnJ ** 2, mu0=mu,
                            lmbda0=lm)
    assert log is not None
    mesh = fd.PeriodicUnitSquareMesh(3, 3)
    a = FiniteStrainRVEProblem(mesh, {1: user}, phase=fd.Constant(1.0), degree=1).solve(F2)
    b = FiniteStrainRVEProblem(mesh, {1: NeoHookean(mu, lm)}, phase=fd.Constant(1.0), degree=1).solve(F2)
    assert np.allclose(a.stress, b.stress, rtol=1e-13) and np.allclose(a.tangent, b.tangent, rtol=1e-12)
    assert np.allclose(user.stress_torch(torch.tensor(F2)[None])[0].numpy(), a.stress, rtol=1e-12)


def test_bad_inputs(rve2):
    with pytest.raises(ValueError, match="periodic"):
        FiniteStrainRVEProblem(fd.UnitSquareMesh(2, 2), {1: MATRIX}, phase=fd.Constant(1.0))
    with pytest.raises(TypeError, match=r"materials\[1\]"):
        FiniteStrainRVEProblem(rve2.mesh, {1: LinearElastic(1.0, 1.0), 2: FIBRE})
    with pytest.raises(ValueError, match="kinematics"):
        FiniteStrainRVEProblem(rve2.mesh, {1: MATRIX, 2: FIBRE}, kinematics="large")
    with pytest.raises(ValueError, match="det F"):
        rve2.solve(np.array([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(ValueError, match="2x2"):
        rve2.solve(np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        rve2.solve(np.array([[np.nan, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="mu"):
        NeoHookean(-1.0, 1.0)


@pytest.mark.parametrize("law", [NeoHookean(2.0, 5.0), MooneyRivlin(1.0, 0.5, 4.0)], ids=["neo_hookean", "mooney"])
@pytest.mark.parametrize("d", [2, 3])
def test_closed_form_stress_is_the_energy_gradient(law, d):
    F = torch.tensor(F2 if d == 2 else F3)[None].repeat(2, 1, 1)
    F[1] = F[1] @ F[1]
    P = super(type(law), law).stress_torch(F)      # autodiff of the torch energy
    assert torch.allclose(law.stress_torch(F), P, rtol=1e-13, atol=1e-13)


def test_large_rotation_is_solved_directly(rve2):
    """F̄ = Q Ū with Q a 143° rotation: the continuation follows the rotation (a straight path in F̄ passes
    through singular F̄), and P̄ = Q P̄(Ū)."""
    th = 2.5
    Q = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    U = np.array([[1.1, 0.08], [0.08, 0.93]])
    a, b = rve2.solve(U, tangent=False), rve2.solve(Q @ U, tangent=False)
    assert np.abs(b.stress - Q @ a.stress).max() < 1e-9 * np.abs(a.stress).max()
