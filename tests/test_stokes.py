"""The Taylor–Hood Stokes solver: manufactured solution and its convergence rate."""
import firedrake as fd
import numpy as np
import torch
import ufl

from spon.data import StokesProblem
from spon.mesh import MeshSpec


def test_manufactured_stokes_flow_converges_at_second_order():
    errors, p_errors = [], []
    for r in (1, 2, 3):
        prob = StokesProblem(MeshSpec("unit_square", 0.25, r), pressure=True)
        x, y = ufl.SpatialCoordinate(prob.mesh)
        psi = ufl.sin(np.pi * x) ** 2 * ufl.sin(np.pi * y) ** 2
        u = ufl.as_vector([psi.dx(1), -psi.dx(0)])                      # curl ψ: divergence-free, zero on ∂Ω
        p = ufl.cos(np.pi * x) * ufl.cos(np.pi * y)
        f = -ufl.div(ufl.grad(u)) + ufl.grad(p)
        f_h = fd.Function(prob.input_space).interpolate(f)
        w = fd.Function(prob.output_space)      # (u, p), p with mean zero as the exact one
        with w.dat.vec_wo as v:
            v.array[:] = prob.solve(torch.as_tensor(f_h.dat.data_ro.copy())[None], progress=False)[0].numpy()
        uh, ph = w.subfunctions
        errors.append(fd.sqrt(fd.assemble(fd.inner(uh - u, uh - u) * fd.dx(degree=8))) / fd.norm(
            fd.Function(uh.function_space()).interpolate(u)))
        p_errors.append(fd.sqrt(fd.assemble((ph - p) ** 2 * fd.dx(degree=8))) / 0.5)    # ‖p‖ = 1/2
        assert abs(fd.assemble(ph * fd.dx)) < 1e-12
    rates = np.log(np.array(errors[:-1]) / errors[1:]) / np.log(2)
    p_rates = np.log(np.array(p_errors[:-1]) / p_errors[1:]) / np.log(2)
    print("relative L2 errors", errors, "rates", rates, "pressure", p_errors, p_rates)
    assert errors[-1] < 1e-2 and np.all(rates > 1.8)
    assert p_errors[-1] < 5e-2 and np.all(p_rates > 1.8)


def test_mixed_output_holds_the_velocity_only_output():
    ms = MeshSpec("unit_square", 0.3, 1)
    f = StokesProblem(ms).sample_inputs(2, seed=3)
    u = StokesProblem(ms).solve(f, progress=False)
    mixed = StokesProblem(ms, pressure=True)
    w = mixed.solve(f, progress=False)
    assert w.shape == (2, mixed.output_space.dim())
    assert torch.allclose(w[:, :u.shape[1]], u, rtol=0, atol=1e-12 * u.abs().max().item())


def test_velocity_is_weakly_divergence_free():
    """Taylor–Hood: ∫ q div u = 0 for every P1 q, though div u itself is not zero."""
    prob = StokesProblem(MeshSpec("unit_square", 0.3, 1))
    u = fd.Function(prob.output_space)
    u.dat.data[:] = prob.solve(prob.sample_inputs(1, seed=0), progress=False)[0].reshape(-1, 2)
    weak = fd.assemble(fd.TestFunction(prob.pressure_space) * fd.div(u) * fd.dx).dat.data_ro
    assert np.abs(weak).max() < 1e-10 * fd.norm(u)
    assert fd.norm(fd.div(u)) > 1e-6 * fd.norm(u)
