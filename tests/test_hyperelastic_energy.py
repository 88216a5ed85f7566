"""The torch twin of the hyperelastic energy: equal to Firedrake's assembly, its gradient the assembled
residual, a Taylor test of order 2, and the potential energy stationary at the FE solution."""
import firedrake as fd
import numpy as np
import pytest
import torch
import ufl

from spon.data.hyperelastic import neo_hookean_energy
from spon.fem.assembly import quadrature_gradient
from spon.physics import HyperelasticEnergy, PotentialEnergyLoss, mooney_rivlin, neo_hookean

MU, LMBDA = 0.7, 1.3


@pytest.fixture(scope="module")
def V():
    return fd.VectorFunctionSpace(fd.UnitSquareMesh(6, 5), "CG", 1)


def _field(V, seed, size=0.1):
    x, y = fd.SpatialCoordinate(V.mesh())
    r = np.random.default_rng(seed).uniform(-1, 1, 4)
    return fd.Function(V).interpolate(size * fd.as_vector([r[0] * x * y + r[1] * fd.sin(3 * y),
                                                           r[2] * x * x + r[3] * fd.cos(2 * x) * y]))


def _vec(u):
    return torch.as_tensor(u.dat.data_ro.reshape(1, -1).copy())


def test_gradient_of_a_polynomial_is_exact_at_the_quadrature_points():
    mesh = fd.UnitSquareMesh(3, 3)
    V2 = fd.VectorFunctionSpace(mesh, "CG", 2)
    x, y = fd.SpatialCoordinate(mesh)
    u = fd.Function(V2).interpolate(fd.as_vector([x * x + y, x * y]))
    D, w = quadrature_gradient(V2)
    g = (D @ _vec(u)[0]).reshape(-1, 2, 2)
    # ∫ |∇u|² with a degree-2 rule is exact for a P2 field
    want = fd.assemble(fd.inner(fd.grad(u), fd.grad(u)) * fd.dx)
    assert abs(float((w * (g ** 2).sum((1, 2))).sum()) - want) < 1e-12 * want
    assert abs(float(w.sum()) - 1.0) < 1e-14


@pytest.mark.parametrize("law", ["neo_hookean", "mooney_rivlin_plane"])
def test_energy_equals_firedrake_assembly(V, law):
    u = _field(V, 0)
    if law == "neo_hookean":
        psi, ufl_psi = neo_hookean(MU, LMBDA), neo_hookean_energy(u, MU, LMBDA)
    else:        # the same formula in UFL, for a 2D F (the torch twin is written for any d)
        psi = mooney_rivlin(0.3, 0.1, LMBDA)
        F = ufl.Identity(2) + ufl.grad(u)
        C = F.T * F
        i1 = ufl.tr(C)
        i2 = 0.5 * (i1 ** 2 - ufl.inner(C, C))
        lnJ = ufl.ln(ufl.det(F))
        ufl_psi = 0.3 * (i1 - 3 - 2 * lnJ) + 0.1 * (i2 - 3 - 4 * lnJ) + LMBDA / 2 * lnJ ** 2
    E = HyperelasticEnergy(V, psi)
    want = fd.assemble(ufl_psi * fd.dx(degree=0))
    assert abs(float(E(_vec(u))) - want) < 1e-13 * abs(want)


def test_internal_force_is_the_assembled_residual(V):
    u = _field(V, 1)
    E = HyperelasticEnergy(V, neo_hookean(MU, LMBDA))
    r = fd.assemble(fd.derivative(neo_hookean_energy(u, MU, LMBDA) * fd.dx(degree=0), u))
    want = torch.as_tensor(r.dat.data_ro.reshape(-1).copy())
    got = E.internal_force(_vec(u))[0]
    assert (got - want).abs().max() < 1e-13 * want.abs().max()


def test_stress_free_at_rest():
    F = torch.eye(3, dtype=torch.float64).expand(2, 3, 3).clone().requires_grad_(True)
    for psi in (neo_hookean(MU, LMBDA), mooney_rivlin(0.3, 0.1, LMBDA)):
        P, = torch.autograd.grad(psi(F).sum(), F)
        assert P.abs().max() < 1e-14 and psi(F).abs().max() < 1e-14


def test_taylor_potential_energy(V):
    """Π(u + εh) − Π(u) − ε ∂Π·h = O(ε²): the gradient training uses."""
    loss = PotentialEnergyLoss(V, neo_hookean(MU, LMBDA))
    u, h = _vec(_field(V, 2)), _vec(_field(V, 3, 0.05))
    f = torch.randn(1, V.dim(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    u.requires_grad_(True)
    g, = torch.autograd.grad(loss(u, f).sum(), u)
    eps = [1e-2 / 2 ** k for k in range(4)]
    with torch.no_grad():
        r = [abs(float(loss(u + e * h, f) - loss(u, f) - e * (g * h).sum())) for e in eps]
    rates = [np.log2(r[k] / r[k + 1]) for k in range(3)]
    assert min(rates) > 1.9, rates


def test_potential_energy_is_stationary_at_the_fe_solution(V):
    """Solve the neo-Hookean problem with Firedrake; the loss's gradient vanishes on the free DOFs."""
    bc = fd.DirichletBC(V, 0.0, 1)
    x, y = fd.SpatialCoordinate(V.mesh())
    f = fd.Function(V).interpolate(fd.as_vector([0.05 * y, -0.1 * x]))
    u, v = fd.Function(V), fd.TestFunction(V)
    Pi = neo_hookean_energy(u, MU, LMBDA) * fd.dx(degree=0) - fd.inner(f, u) * fd.dx
    fd.solve(fd.derivative(Pi, u, v) == 0, u, bcs=bc, solver_parameters={"snes_rtol": 1e-12, "snes_atol": 1e-14})
    loss = PotentialEnergyLoss(V, neo_hookean(MU, LMBDA))
    U = _vec(u).requires_grad_(True)
    g, = torch.autograd.grad(loss(U, _vec(f)).sum(), U)
    free = torch.ones(V.dim(), dtype=torch.bool)
    free[(2 * torch.as_tensor(bc.nodes)[:, None] + torch.arange(2)).flatten()] = False
    assert float(U.detach().abs().max()) > 1e-2          # a real deformation
    U2 = U.detach().clone()
    U2[0, ~free] += 1e-3                        # a move the clamp forbids: not stationary there
    g2, = torch.autograd.grad(loss(U2.requires_grad_(True), _vec(f)).sum(), U2)
    assert g[0, free].abs().max() < 1e-9 * g2[0].abs().max()


def test_compliance_normalised_energy_is_minus_a_half_at_small_loads(V):
    """With K⁻¹ of linear elasticity, Π(u_lin)/(b·K⁻¹b) = −½ for the linear solution, and the
    neo-Hookean energy agrees as the load goes to zero: every sample's minimum sits near −½."""
    from spon.fem.assembly import green_matrix, mixed_mass_matrix
    from spon.fem.bcs import dirichlet_mask
    from spon.fem.forms import ElasticityForm
    from spon.fem.sparse import spmv

    bc = fd.DirichletBC(V, 0.0, 1)
    Kinv = green_matrix(V, ElasticityForm(MU, LMBDA), dirichlet_mask(V, [bc], "V"), source="load")
    loss = PotentialEnergyLoss(V, neo_hookean(MU, LMBDA), compliance=Kinv)
    f = torch.randn(3, V.dim(), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = []
    for t in (1e-2, 1e-3):
        u = spmv(mixed_mass_matrix(V, V), t * f) @ Kinv.T          # the linear solution of each load
        got.append(loss(u, t * f))
    assert (got[1] + 0.5).abs().max() < 1e-3 and (got[1] + 0.5).abs().max() < 0.2 * (got[0] + 0.5).abs().max()
    plain = PotentialEnergyLoss(V, neo_hookean(MU, LMBDA))(u, 1e-3 * f)     # ‖f‖²: the scale varies by sample
    assert plain.std() / plain.abs().mean() > 100 * got[1].std() / got[1].abs().mean()
    with pytest.raises(ValueError, match="compliance: expected a"):
        PotentialEnergyLoss(V, neo_hookean(MU, LMBDA), compliance=Kinv[:-1])


def test_bad_inputs_are_named(V):
    E = HyperelasticEnergy(V, neo_hookean(MU, LMBDA))
    with pytest.raises(ValueError, match="u: expected shape"):
        E(torch.zeros(1, V.dim() + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="u: expected torch.float64"):
        E(torch.zeros(1, V.dim(), dtype=torch.float32))
    loss = PotentialEnergyLoss(V, neo_hookean(MU, LMBDA))
    with pytest.raises(ValueError, match="f: expected shape"):
        loss(torch.zeros(2, V.dim(), dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64))
