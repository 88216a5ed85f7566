"""The adjoint bridge: Taylor tests per sample, nonlinear functionals, and the whole torch graph."""
import firedrake as fd
import numpy as np
import pytest
import torch

from conftest import taylor_orders
from spon.physics import EnergyFunctional, ReducedFunctional, ResidualFunctional


@pytest.fixture(scope="module")
def meshes():
    from spon.mesh import gmsh_mesh
    return {"square": gmsh_mesh("unit_square", 0.2, name="phys_sq")}


def _batch(V, B, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(B, V.dim(), generator=g, dtype=torch.float64)


def p_laplace_energy(p):
    def energy(u, f=None):
        return (1 / p) * (fd.inner(fd.grad(u), fd.grad(u)) + 1e-2) ** (p / 2) * fd.dx - u * fd.dx
    return energy


def test_taylor_p_laplacian_energy(meshes):
    V = fd.FunctionSpace(meshes["square"], "CG", 1)
    E = EnergyFunctional(V, p_laplace_energy(4))
    orders = taylor_orders(E, _batch(V, 4))
    assert orders.min() > 1.9, orders


def test_energy_values_match_assemble(meshes):
    V = fd.FunctionSpace(meshes["square"], "CG", 2)
    energy = p_laplace_energy(3)
    u = _batch(V, 4, seed=1)
    J = EnergyFunctional(V, energy)(u)
    for b in range(4):
        f = fd.Function(V)
        f.dat.data[:] = u[b].numpy()
        assert abs(J[b].item() - fd.assemble(energy(f))) <= 1e-12 * abs(J[b].item())


def neo_hookean(mu=1.0, lmbda=10.0):
    def energy(u):
        F = fd.Identity(2) + fd.grad(u)
        C = F.T * F
        Jd = fd.det(F)
        psi = mu / 2 * (fd.tr(C) - 2) - mu * fd.ln(Jd) + lmbda / 2 * fd.ln(Jd) ** 2
        return psi * fd.dx - fd.inner(fd.Constant((0.0, -0.1)), u) * fd.dx
    return energy


def test_taylor_neo_hookean_energy(meshes):
    V = fd.VectorFunctionSpace(meshes["square"], "CG", 1)
    E = EnergyFunctional(V, neo_hookean())
    orders = taylor_orders(E, _batch(V, 4, scale=0.02), du_scale=0.02)
    assert orders.min() > 1.9, orders


@pytest.mark.parametrize("norm", ["l2", "L2", "H1", "L2_preconditioned"])
def test_taylor_p_laplacian_residual_with_data(meshes, norm):
    """Residual of -div(κ|∇u|²∇u) = 1 with per-sample κ; gradients in u and κ."""
    V = fd.FunctionSpace(meshes["square"], "CG", 1)
    K = fd.FunctionSpace(meshes["square"], "DG", 0)

    def residual(u, v, kappa):
        return kappa * fd.inner(fd.grad(u), fd.grad(u)) * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - v * fd.dx

    R = ResidualFunctional(V, residual, bcs=[fd.DirichletBC(V, 0, "on_boundary")], norm=norm, data_spaces=[K])
    kappa = 1 + torch.rand(4, K.dim(), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    orders = taylor_orders(lambda u, k: R(u, k), _batch(V, 4), (kappa,))
    assert orders.min() > 1.9, orders
    # and in κ
    u0 = _batch(V, 4, seed=5)
    orders_k = taylor_orders(lambda k, u: R(u, k), kappa, (u0,))
    assert orders_k.min() > 1.9, orders_k


def test_residual_dual_norm_matches_firedrake(meshes):
    V = fd.FunctionSpace(meshes["square"], "CG", 1)
    bc = fd.DirichletBC(V, 0, "on_boundary")

    def residual(u, v):
        return fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - v * fd.dx

    u = _batch(V, 3, seed=3)
    J = ResidualFunctional(V, residual, bcs=[bc], norm="L2")(u)
    for b in range(3):
        f = fd.Function(V)
        f.dat.data[:] = u[b].numpy()
        r = fd.assemble(residual(f, fd.TestFunction(V)))
        bc.zero(r)
        w = fd.Function(V)
        p, q = fd.TrialFunction(V), fd.TestFunction(V)
        fd.solve(fd.inner(p, q) * fd.dx == r, w, bcs=fd.DirichletBC(V, 0, "on_boundary"))
        want = fd.assemble(fd.action(r, w))
        assert abs(J[b].item() - want) <= 1e-10 * abs(want)


def test_preconditioned_residual_is_the_l2_error_for_poisson(meshes):
    """For -Δu = f the Laplace-preconditioned residual K⁻¹r is exactly u - u*."""
    V = fd.FunctionSpace(meshes["square"], "CG", 2)
    bc = fd.DirichletBC(V, 0, "on_boundary")
    p, q = fd.TrialFunction(V), fd.TestFunction(V)
    sol = fd.Function(V)
    fd.solve(fd.inner(fd.grad(p), fd.grad(q)) * fd.dx == q * fd.dx, sol, bcs=bc)
    R = ResidualFunctional(V, lambda u, v: fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - v * fd.dx, bcs=[bc],
                           norm="L2_preconditioned")
    u = _batch(V, 3, seed=9)
    u[:, bc.nodes] = 0.0
    J = R(u)
    for b in range(3):
        f = fd.Function(V)
        f.dat.data[:] = u[b].numpy()
        want = fd.errornorm(sol, f, degree_rise=0) ** 2
        assert abs(J[b].item() - want) <= 1e-9 * want


def test_residual_zero_at_the_solution(meshes):
    V = fd.FunctionSpace(meshes["square"], "CG", 1)
    bc = fd.DirichletBC(V, 0, "on_boundary")
    p, q = fd.TrialFunction(V), fd.TestFunction(V)
    sol = fd.Function(V)
    fd.solve(fd.inner(fd.grad(p), fd.grad(q)) * fd.dx == q * fd.dx, sol, bcs=bc)
    R = ResidualFunctional(V, lambda u, v: fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - v * fd.dx, bcs=[bc])
    J = R(torch.tensor(sol.dat.data_ro).reshape(1, -1))
    assert J.item() < 1e-20


def _pde_misfit(V, u_obs):
    def fn(kappa_raw, ):
        # κ = exp(network output): solve -div(κ ∇u) = 1, misfit to observations
        u = fd.Function(V)
        v, w = fd.TestFunction(V), fd.TrialFunction(V)
        # a fixed quadrature degree keeps forward and adjoint forms consistent for exp(κ)
        dx = fd.dx(degree=4)
        fd.solve(fd.exp(kappa_raw) * fd.inner(fd.grad(w), fd.grad(v)) * dx == v * dx, u,
                 bcs=fd.DirichletBC(V, 0, "on_boundary"))
        return fd.assemble(1e4 * (u - u_obs) ** 2 * dx)
    return fn


def test_taylor_pde_constrained_per_sample_state(meshes):
    """Nonlinear in the control: each sample's gradient must use its own forward state."""
    mesh = meshes["square"]
    V, K = fd.FunctionSpace(mesh, "CG", 1), fd.FunctionSpace(mesh, "CG", 1)
    x, y = fd.SpatialCoordinate(mesh)
    u_obs = fd.Function(V).interpolate(0.05 * x * (1 - x) * y * (1 - y))
    R = ReducedFunctional(K, _pde_misfit(V, u_obs))
    k = _batch(K, 4, seed=4, scale=0.5)
    # h small enough that the quadratic term dominates the cubic one in every sample
    orders = taylor_orders(R, k, h0=1e-3)
    assert orders.min() > 1.9, orders
    # the batched gradient equals the one-sample-at-a-time gradient
    kk = k.clone().requires_grad_(True)
    R(kk).sum().backward()
    for b in (0, 3):
        kb = k[b:b + 1].clone().requires_grad_(True)
        R(kb).sum().backward()
        assert torch.allclose(kk.grad[b], kb.grad[0], rtol=1e-10, atol=1e-14)


def test_whole_torch_graph_against_finite_differences(meshes):
    """network -> exact-BC decoder -> FE residual -> scalar, by torch.autograd.gradcheck."""
    from spon.fem import DirichletDecoder
    V = fd.FunctionSpace(meshes["square"], "CG", 1)
    bc = fd.DirichletBC(V, 0, "on_boundary")
    dec = DirichletDecoder(V, bc)
    R = ResidualFunctional(V, lambda u, v: (1 + u ** 2) * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - v * fd.dx,
                           bcs=[bc], norm="H1")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, V.dim())).double()
    z = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: R(dec(net(z))).sum(), (z,), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_bad_inputs(meshes):
    V = fd.FunctionSpace(meshes["square"], "CG", 1)
    K = fd.FunctionSpace(meshes["square"], "DG", 0)
    R = ResidualFunctional(V, lambda u, v, k: k * u * v * fd.dx, data_spaces=[K])
    with pytest.raises(ValueError, match=r"u: expected shape \(batch, "):
        R(torch.zeros(2, V.dim() + 1, dtype=torch.float64), torch.zeros(2, K.dim(), dtype=torch.float64))
    with pytest.raises(ValueError, match=r"data: expected 1 per-sample fields, got 0"):
        R(torch.zeros(2, V.dim(), dtype=torch.float64))
    with pytest.raises(ValueError, match=r"data\[0\]: expected batch size 2"):
        R(torch.zeros(2, V.dim(), dtype=torch.float64), torch.zeros(3, K.dim(), dtype=torch.float64))
    bad = torch.zeros(1, V.dim(), dtype=torch.float64)
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"u: expected finite values"):
        R(bad, torch.zeros(1, K.dim(), dtype=torch.float64))
    with pytest.raises(ValueError, match=r"norm: expected"):
        ResidualFunctional(V, lambda u, v: u * v * fd.dx, norm="H2")
