"""Navier–Stokes: manufactured-solution rates, DFG 2D-1 drag and lift, BDF2 steps."""
import firedrake as fd
import numpy as np
import pytest

from spon.data.navier_stokes import DFG_2D1, DFGChannel, navier_stokes_residual
from spon.fem import lu_parameters
from spon.mesh import MeshSpec


def _mms_errors(n, nu=0.1):
    mesh = fd.UnitSquareMesh(n, n, diagonal="crossed")
    V, Q = fd.VectorFunctionSpace(mesh, "CG", 2), fd.FunctionSpace(mesh, "CG", 1)
    W = V * Q
    x, y = fd.SpatialCoordinate(mesh)
    psi = fd.sin(fd.pi * x) ** 2 * fd.sin(fd.pi * y) ** 2          # u = curl ψ is divergence-free
    u_ex = fd.as_vector([psi.dx(1), -psi.dx(0)])
    p_ex = fd.cos(fd.pi * x) * fd.cos(fd.pi * y)                   # mean zero
    f = fd.dot(fd.grad(u_ex), u_ex) - nu * fd.div(fd.grad(u_ex)) + fd.grad(p_ex)
    w = fd.Function(W)
    u, p = fd.split(w)
    v, q = fd.TestFunctions(W)
    F = navier_stokes_residual(u, p, v, q, fd.Constant(nu), f)
    bcs = [fd.DirichletBC(W.sub(0), u_ex, "on_boundary")]
    ns = fd.MixedVectorSpaceBasis(W, [W.sub(0), fd.VectorSpaceBasis(constant=True, comm=mesh.comm)])
    fd.solve(F == 0, w, bcs=bcs, nullspace=ns,
             solver_parameters={"snes_rtol": 1e-12, **lu_parameters(), "mat_mumps_icntl_24": 1})
    uh, ph = w.subfunctions
    ph -= fd.assemble(ph * fd.dx)
    return (fd.errornorm(u_ex, uh, "L2"), fd.errornorm(u_ex, uh, "H1"), fd.errornorm(p_ex, ph, "L2"))


def test_manufactured_solution_rates():
    """Taylor–Hood P2–P1: velocity L² order 3, H¹ order 2, pressure L² order 2."""
    errs = np.array([_mms_errors(n) for n in (6, 12, 24)])
    rates = np.log2(errs[:-1] / errs[1:])[-1]
    assert rates[0] > 2.8 and rates[1] > 1.9 and rates[2] > 1.9, rates


@pytest.fixture(scope="module")
def channel():
    ch = DFGChannel(MeshSpec("dfg_cylinder", 0.08, 0))
    ch.solve_steady(DFG_2D1["U_m"])
    return ch


def test_dfg_2d1_drag_and_lift_on_a_coarse_mesh(channel):
    """5k DOFs: drag within 0.5 %, lift within 10 % of Schäfer & Turek's values (the
    benchmark's 19k-DOF mesh is within 0.1 % and 0.6 %)."""
    cd, cl = channel.coefficients()
    assert abs(cd / DFG_2D1["cd"] - 1) < 5e-3
    assert abs(cl / DFG_2D1["cl"] - 1) < 0.1


def test_bdf2_keeps_a_steady_flow_steady_and_is_deterministic(channel):
    steady = channel.w.copy(deepcopy=True)
    cd0, cl0 = channel.coefficients()
    runs = []
    for _ in range(2):
        channel.start_unsteady(0.01, initial=steady)
        for _ in range(3):
            channel.step()
        runs.append(channel.w.copy(deepcopy=True))
        assert np.all(np.isfinite(channel.w.dat.data_ro[0])) and channel.steps == 3
    assert np.array_equal(runs[0].dat.data_ro[0], runs[1].dat.data_ro[0])
    du = fd.errornorm(steady.subfunctions[0], runs[0].subfunctions[0]) / fd.norm(steady.subfunctions[0])
    assert du < 1e-8
    cd, cl = channel.unsteady_coefficients()
    assert cd == pytest.approx(cd0, rel=1e-7) and cl == pytest.approx(cl0, rel=1e-5)
    channel.w.assign(steady)


def test_no_step_before_start():
    ch = DFGChannel.__new__(DFGChannel)
    ch._unsteady = None
    with pytest.raises(RuntimeError, match="start_unsteady"):
        ch.step()


def test_strouhal_of_a_sine():
    from spon.data.navier_stokes import strouhal
    t = np.linspace(0, 2, 801)
    st, amp = strouhal(t, 0.3 + 0.7 * np.sin(2 * np.pi * 3.0 * t + 0.4), U_bar=1.0)
    assert st == pytest.approx(0.3, rel=1e-4) and amp == pytest.approx(0.7, rel=1e-3)
    with pytest.raises(ValueError, match="two periods"):
        strouhal(t[:50], np.sin(t[:50]), U_bar=1.0)


def test_velocity_boundary_dofs_hold_the_dirichlet_data(channel):
    from spon.data.navier_stokes import CYLINDER, INFLOW, WALLS
    V = channel.V
    g = fd.Function(V)
    fd.DirichletBC(V, channel.inflow_profile, INFLOW).apply(g)
    b = channel.velocity_boundary_dofs()
    u = channel.velocity()
    assert 0 < len(b) < V.dim()
    assert np.abs(u[b].numpy() - g.dat.data_ro.reshape(-1)[b.numpy()]).max() < 1e-12
    walls = fd.DirichletBC(V, fd.Constant((0.0, 0.0)), (WALLS, CYLINDER)).nodes
    assert np.abs(u.reshape(-1, 2)[walls].numpy()).max() == 0


@pytest.mark.parametrize("increment", [False, True, "leapfrog"])
def test_learned_rollout_keeps_inflow_and_no_slip_exactly_and_is_deterministic(channel, increment):
    """A few steps of a (randomly perturbed) one-step operator from the Re = 20 flow: the inflow,
    wall and cylinder values stay those of the start to the bit, the states stay finite, and
    two rollouts agree bit for bit. The state map gets each state's boundary values as its
    Dirichlet data; the increment and second-order (leapfrog) maps have zero data."""
    import torch

    from spon.data.navier_stokes import CYLINDER, INFLOW, WALLS
    from spon.models import build_spon, leapfrog_rollout, rollout
    proc = {"kind": "graph", "width": 4, "layers": 2, **({"linear_skip": True} if increment is not True else {})}
    m = build_spon({"mesh": MeshSpec("dfg_cylinder", 0.08, 0).to_dict(),
                    "input": {"family": "CG", "degree": 2, "shape": [2]},
                    "output": {"family": "CG", "degree": 2, "shape": [2]}, "encoder": "coefficients",
                    "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": [INFLOW, WALLS, CYLINDER]},
                    "processor": proc, "dtype": "float64", "seed": 1})
    with torch.no_grad():
        for p in m.processor.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()),
                                      dtype=p.dtype))
    u0 = channel.velocity()
    if increment == "leapfrog":        # from rest to the Re = 20 flow: the first step moves
        u_prev = u0.clone()
        u_prev[~torch.isin(torch.arange(len(u0)), channel.velocity_boundary_dofs())] = 0
        a, b = (leapfrog_rollout(m, u_prev, u0, 3, center=u0) for _ in range(2))
    else:
        a, b = rollout(m, u0, 3, increment=increment), rollout(m, u0, 3, increment=increment)
    bdofs = channel.velocity_boundary_dofs()
    assert torch.equal(a, b) and torch.isfinite(a).all()
    assert torch.equal(a[:, bdofs], u0[bdofs].expand(3, -1))
    assert (a[-1] - u0).abs().max() > 0          # the operator does move the interior


def test_divergence_free_channel_decoder_keeps_div_zero_and_the_normal_flux(channel):
    """u = curl ψ in RT2 with ψ from the channel's data (inflow ψ, walls, the Stokes flux below the
    cylinder): for any processor output, div u = 0 and u·n = 0 on walls and cylinder to round-off,
    and the flux through the inflow and the outflow is the parabola's."""
    import torch

    from spon.data.navier_stokes import CYLINDER, INFLOW, OUTFLOW, WALLS
    from spon.models import build_spon
    m = build_spon({"mesh": MeshSpec("dfg_cylinder", 0.08, 0).to_dict(),
                    "input": {"family": "CG", "degree": 2, "shape": [2]}, "output": {"family": "RT", "degree": 2},
                    "encoder": "l2", "decoder": {"kind": "divergence_free", "boundary": [INFLOW, WALLS, CYLINDER]},
                    "processor": {"kind": "graph", "width": 4, "layers": 1}, "dtype": "float64", "seed": 2})
    c = 0.13
    psi = channel.stream_function_data(m.decoder.Q, c, U_m=0.5)
    x = torch.randn(2, channel.V.dim(), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        out = m(x, g=torch.as_tensor(psi.dat.data_ro.copy()).expand(2, -1)).reshape(2, -1)
    n = fd.FacetNormal(channel.mesh)
    for k in range(2):
        u = fd.Function(m.decoder.V)
        u.dat.data[:] = out[k].numpy()
        assert fd.norm(fd.div(u)) <= 1e-11 * fd.norm(u)
        assert fd.assemble(fd.dot(u, n) ** 2 * fd.ds((WALLS, CYLINDER))) ** 0.5 <= 1e-12
        assert abs(fd.assemble(fd.dot(u, n) * fd.ds(INFLOW)) + 0.5 * 2 / 3 * 0.41) <= 1e-12
        assert abs(fd.assemble(fd.dot(u, n) * fd.ds(OUTFLOW)) - 0.5 * 2 / 3 * 0.41) <= 1e-12


def test_flux_below_the_cylinder_splits_the_stokes_flow(channel):
    """The Re = 20 flow's flux below the cylinder (set 5 mm below the channel's middle): a little
    under half the inflow's, (2/3) U_m H."""
    from spon.data.navier_stokes import DFG_2D1
    q = channel.flux_below_cylinder(channel.w.subfunctions[0]) / (2 / 3 * DFG_2D1["U_m"] * 0.41)
    assert 0.45 < q < 0.5, q


def test_coefficients_from_velocities_recover_the_pressure_of_bdf2_steps(channel):
    """For BDF2 states of the solver itself, the best-fit pressure is the solver's: drag and lift
    from the velocities alone equal the solver's own, during a strong transient (the inflow
    jumps from U_m = 0.3 to 1.5)."""
    ch = DFGChannel(channel.mesh_spec)
    ch.U_m.assign(1.5)
    ch.start_unsteady(0.01, initial=channel.w)
    us = []
    for _ in range(4):
        ch.step()
        us.append(ch.velocity())
    cd, cl = ch.unsteady_coefficients()
    cd_v, cl_v = ch.coefficients_from_velocities(us[3], us[2], us[1], 0.01)
    assert cd_v == pytest.approx(cd, rel=1e-7) and cl_v == pytest.approx(cl, rel=1e-6, abs=1e-9)
    cd_1, cl_1 = ch.coefficients_from_velocities(us[3], us[2], us[1], 0.02)    # a wrong dt is seen
    assert abs(cd_1 / cd - 1) > 1e-4       # 1000x the agreement above
    with pytest.raises(ValueError, match="u_old"):
        ch.coefficients_from_velocities(us[3], us[2][:-1], us[1], 0.01)
