"""Finite-strain surrogates: objective by construction, equilibrated stress modes, periodic fluctuation
modes, exact constitutive loss at the snapshots, autodiff tangents, clear errors."""
import numpy as np
import pytest
import torch

fd = pytest.importorskip("firedrake")

from spon.mesh import rve_mesh  # noqa: E402
from spon.multiscale import FiniteStrainRVEProblem, MooneyRivlin, NeoHookean  # noqa: E402
from spon.multiscale.finite_workflow import (finite_strain_data, frame_indifference_error,  # noqa: E402
                                             least_squares_models, random_rotations)
from spon.multiscale.hyperelastic import SmallStrainMatrix  # noqa: E402
from spon.multiscale.micro import periodic_mismatch  # noqa: E402
from spon.multiscale.stretch import polar  # noqa: E402
from spon.multiscale.stretch_equino import StretchEquiNO, StretchMLP  # noqa: E402

PHASES = {1: MooneyRivlin(150.0, 58.5, 4500.0), 2: NeoHookean(2991.8, 2350.7)}


@pytest.fixture(scope="module")
def data():
    rve = FiniteStrainRVEProblem(rve_mesh("fibre", h=0.2), PHASES)
    return finite_strain_data(rve, n_train=10, n_val=3, n_test=4, box=0.15, progress=False)


@pytest.fixture(scope="module")
def equino(data):
    """All modes kept: every training snapshot is exactly representable."""
    return StretchEquiNO.from_snapshots(data.train, data.quad, PHASES, box=data.box, tol=0.0, width=16, depth=2)


def test_polar_decomposition():
    F = torch.as_tensor(np.eye(3) + 0.3 * np.random.default_rng(0).standard_normal((5, 3, 3)))
    F = F * torch.sign(torch.linalg.det(F))[:, None, None] ** (1 / 3)   # det > 0
    F = F[torch.linalg.det(F) > 0]
    R, U = polar(F)
    I = torch.eye(3, dtype=F.dtype)
    assert torch.allclose(R @ U, F, atol=1e-13) and torch.allclose(R.transpose(1, 2) @ R, I.expand_as(R), atol=1e-13)
    assert torch.allclose(U, U.transpose(1, 2), atol=1e-14) and (torch.linalg.eigvalsh(U) > 0).all()
    # smooth at F = I (repeated stretches): finite derivatives
    J = torch.func.jacrev(lambda f: polar(f[None])[0][0])(torch.eye(3, dtype=torch.float64))
    assert torch.isfinite(J).all()


def test_stress_modes_are_equilibrated(data):
    """∫ ψ_j : ∇v = 0 for every periodic v (Dᵀ W ψ), to the cell solver's tolerance (the modes kept by the
    default POD tolerance; the trailing ones of a complete POD amplify the snapshots' own Newton residual)."""
    model = StretchEquiNO.from_snapshots(data.train, data.quad, PHASES, box=data.box, width=16, depth=2)
    for psi in model.stress_modes.numpy():
        r = data.quad.residual(psi)
        signs = np.random.default_rng(0).choice([-1.0, 1.0], size=len(psi))[:, None, None]
        scale = np.abs(data.quad.residual(psi * signs)).max()     # the same field, not equilibrated
        assert np.abs(r).max() < 1e-8 * scale, (np.abs(r).max(), scale)      # Newton rtol 1e-10


def test_fluctuation_modes_are_periodic(data, equino):
    f = fd.Function(data.rve.V)
    for phi in equino.u_modes.numpy()[:3]:
        f.dat.data[:] = phi.reshape(-1, 2)
        jump, pairs = periodic_mismatch(f)
        assert pairs > 3 and jump < 1e-13 * np.abs(phi).max()


def test_constitutive_loss_vanishes_at_the_snapshots_projections(data, equino):
    S, w = data.train, data.quad.weights
    a = np.einsum("sqij,q,kqij->sk", S.grad_w, w, equino.grad_modes.numpy())
    b = np.einsum("sqij,q,kqij->sk", S.P_q, w, equino.stress_modes.numpy())
    equino.coefficients = lambda x: (torch.as_tensor(a), torch.as_tensor(b))
    try:
        loss = equino.constitutive_loss(torch.as_tensor(S.x))
        P = equino.stretch_stress(torch.as_tensor(S.x)).numpy()
    finally:
        del equino.coefficients
    assert loss.max() < 1e-12, loss
    assert np.abs(P - S.P).max() < 1e-10 * np.abs(S.P).max()


@pytest.mark.parametrize("kind", ["equino", "mlp", "least_squares_deg2"])
def test_surrogates_are_frame_indifferent(data, equino, kind):
    model = {"equino": equino, "mlp": StretchMLP(2, data.box)}.get(kind) or \
        least_squares_models(data, equino.stress_mean_modes.numpy(), equino.stress_modes.numpy())[kind]
    assert frame_indifference_error(model, data.test_F) < 1e-12


def test_tangent_is_the_derivative_of_the_stress(data, equino):
    F = torch.as_tensor(data.test_F[:2])
    _, A = equino.stress_and_tangent(F)
    h = 1e-6
    for k in range(2):
        for m in range(2):
            E = torch.zeros(2, 2, dtype=torch.float64)
            E[k, m] = h
            with torch.no_grad():
                fdA = (equino.first_piola(F + E) - equino.first_piola(F - E)) / (2 * h)
            assert torch.allclose(A[..., k, m].detach(), fdA, rtol=1e-6, atol=1e-8 * float(A.detach().abs().max()))


def test_test_set_is_rotated_and_solved_directly(data):
    R, _ = polar(torch.as_tensor(data.test_F))
    assert (torch.linalg.matrix_norm(R - torch.eye(2, dtype=torch.float64)) > 0.1).all()


def test_small_strain_matrix_twin_equals_ufl():
    law = SmallStrainMatrix()
    mesh = fd.UnitCubeMesh(1, 1, 1)
    eps = np.array([[0.01, 0.004, 0.0], [0.004, -0.02, 0.003], [0.0, 0.003, 0.005]])
    e = fd.variable(fd.Constant(eps))
    sig = fd.Function(fd.TensorFunctionSpace(mesh, "DG", 0)).interpolate(fd.diff(law.small_strain_energy(e), e))
    assert np.allclose(law.small_strain_stress_torch(torch.tensor(eps)).numpy(), sig.dat.data_ro[0], rtol=1e-12)
    with pytest.raises(NotImplementedError, match="small"):
        law.energy_torch(torch.eye(3, dtype=torch.float64)[None])


def test_bad_inputs(data, equino):
    with pytest.raises(ValueError, match="outside the surrogate's training set"):
        equino.stress_and_tangent(torch.tensor([[[1.5, 0.0], [0.0, 1.0]]], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"shape \(N, 2, 2\)"):
        equino.stress_and_tangent(torch.eye(3, dtype=torch.float64)[None])
    with pytest.raises(TypeError, match="float64"):
        equino.stress_and_tangent(torch.eye(2)[None])
    with pytest.raises(ValueError, match="NaN"):
        equino.stress_and_tangent(torch.full((1, 2, 2), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="det F"):
        equino.stress_and_tangent(torch.tensor([[[1.0, 0.0], [0.0, -1.0]]], dtype=torch.float64))
    assert random_rotations(3, 3).shape == (3, 3, 3)
