"""The neo-Hookean solver: manufactured solution and its convergence rate, the
small-load limit of linear elasticity, and a response that is really nonlinear."""
import firedrake as fd
import numpy as np
import pytest
import torch
import ufl

from spon.data import ElasticityProblem, HyperelasticityProblem
from spon.data.hyperelastic import neo_hookean_energy
from spon.mesh import MeshSpec

MU, LMBDA = 0.3846, 0.5769


def _manufactured(mesh):
    x, y = ufl.SpatialCoordinate(mesh)
    u = 0.1 * ufl.as_vector([ufl.sin(np.pi * x) * ufl.sin(np.pi * y), ufl.sin(2 * np.pi * x) * ufl.sin(np.pi * y)])
    F = ufl.variable(ufl.Identity(2) + ufl.grad(u))
    J = ufl.det(F)
    psi = MU / 2 * (ufl.tr(F.T * F) - 2 - 2 * ufl.ln(J)) + LMBDA / 2 * ufl.ln(J) ** 2
    return u, -ufl.div(ufl.diff(psi, F))


def test_energy_is_the_neo_hookean_density():
    mesh = fd.UnitSquareMesh(2, 2)
    V = fd.VectorFunctionSpace(mesh, "CG", 1)
    u = fd.Function(V).interpolate(ufl.as_vector([0.1 * ufl.SpatialCoordinate(mesh)[0], 0.0]))  # uniaxial stretch
    e = fd.assemble(neo_hookean_energy(u, MU, LMBDA) * fd.dx)
    s = 1.1
    assert abs(e - (MU / 2 * (s**2 - 1 - 2 * np.log(s)) + LMBDA / 2 * np.log(s) ** 2)) < 1e-14


def test_manufactured_solution_converges_at_second_order():
    errors = []
    for r in (1, 2, 3):
        prob = HyperelasticityProblem(MeshSpec("unit_square", 0.25, r), mu=MU, lmbda=LMBDA, clamp="on_boundary",
                                      steps=2)
        u_exact, f = _manufactured(prob.mesh)
        f_h = fd.Function(prob.input_space).interpolate(f)
        u = prob.solve(torch.as_tensor(f_h.dat.data_ro.copy())[None], progress=False)
        uh = fd.Function(prob.output_space)
        uh.dat.data[:] = u[0].reshape(-1, 2).numpy()
        errors.append(fd.sqrt(fd.assemble(fd.inner(uh - u_exact, uh - u_exact) * fd.dx(degree=6))))
    rates = np.log(np.array(errors[:-1]) / errors[1:]) / np.log(2)
    print("L2 errors", errors, "rates", rates)
    assert errors[-1] < 1e-3 and np.all(rates > 1.8)


@pytest.fixture(scope="module")
def cook():
    return MeshSpec("cook_membrane", 8.0, 1)


def test_small_loads_give_linear_elasticity(cook):
    hyper = HyperelasticityProblem(cook, mu=MU, lmbda=LMBDA)
    linear = ElasticityProblem(cook, youngs=1.0, poisson=0.3)
    f = hyper.sample_inputs(1, seed=0)
    u_lin = linear.solve(f, progress=False)
    for eps, tol in ((1e-2, 1e-1), (1e-4, 1e-3)):
        u = hyper.solve(eps * f, progress=False) / eps
        rel = ((u - u_lin).norm() / u_lin.norm()).item()
        assert rel < tol, (eps, rel)


def test_response_is_nonlinear_at_the_default_load(cook):
    prob = HyperelasticityProblem(cook)
    f = prob.sample_inputs(2, seed=3)
    u, u_half = prob.solve(f, progress=False), prob.solve(0.5 * f, progress=False)
    departure = ((u - 2 * u_half).norm(dim=1) / u.norm(dim=1))
    assert torch.all(departure > 0.02), departure
    assert all(4 <= its <= 60 for its in prob.newton_iterations)
