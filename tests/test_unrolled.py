"""Training a one-step increment map on a trajectory (noise, pushforward): it learns a
linear decay, it is deterministic, and it refuses states of the wrong shape. The
second-order (leapfrog) map: a linear force gives the discrete harmonic oscillator
without damping, and training recovers an oscillation's frequency."""
import math

import firedrake as fd
import pytest
import torch

from spon.mesh import MeshSpec
from spon.models import build_spon, leapfrog_rollout, rollout
from spon.training import fit_increment_map, fit_leapfrog_map


def _model(seed=0):
    return build_spon({"mesh": MeshSpec("unit_square", 0.25, 1).to_dict(),
                       "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
                       "encoder": "coefficients", "decoder": {"kind": "dirichlet", "value": 0.0},
                       "processor": {"kind": "graph", "width": 8, "layers": 1, "linear_skip": True},
                       "dtype": "float64", "seed": seed})


@pytest.fixture(scope="module")
def decay():
    """u_j = r^j sin(πx) sin(πy): the exact increment map is u -> (r^k - 1) u."""
    m = _model()
    V = m.decoder.V
    x, y = fd.SpatialCoordinate(V.mesh())
    phi = torch.as_tensor(fd.Function(V).interpolate(fd.sin(fd.pi * x) * fd.sin(fd.pi * y)).dat.data_ro.copy())
    r = 0.9
    return torch.stack([r ** j * phi for j in range(16)]), r


def test_increment_map_learns_a_linear_decay(decay):
    states, r = decay
    m = _model()
    h = fit_increment_map(m, states, 2, epochs=100, batch_size=4, lr=1e-2, unroll=2, noise=0.05, progress=False)
    assert h["train_loss"][-1] < 1e-3 * h["train_loss"][0]
    traj = rollout(m, states[0], 5, increment=True)
    err = (traj - states[2:12:2]).norm(dim=1) / states[2:12:2].norm(dim=1)
    assert err.max() < 0.06, err       # 5 steps of a 19 % decay each


def test_increment_map_training_is_deterministic(decay):
    states, _ = decay
    a, b = _model(), _model()
    for m in (a, b):
        fit_increment_map(m, states, 1, epochs=2, batch_size=4, unroll=3, noise=0.1, seed=3, progress=False)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_increment_map_rejects_bad_states(decay):
    states, _ = decay
    m = _model()
    with pytest.raises(ValueError, match="states: expected shape"):
        fit_increment_map(m, states[:, :-1], 1, epochs=1, progress=False)
    with pytest.raises(ValueError, match="unroll"):
        fit_increment_map(m, states[:4], 2, unroll=2, epochs=1, progress=False)
    bad = states.clone()
    bad[3, 5] = float("nan")
    with pytest.raises(ValueError, match="states"):
        fit_increment_map(m, bad, 1, epochs=1, progress=False)


@pytest.fixture(scope="module")
def oscillation():
    """u_j = c + cos(jθ) φ1 + sin(jθ) φ2, with φ1, φ2 zero on the boundary."""
    m = _model()
    V = m.decoder.V
    x, y = fd.SpatialCoordinate(V.mesh())
    c, f1, f2 = [torch.as_tensor(fd.Function(V).interpolate(e).dat.data_ro.copy())
                 for e in (1 + x * y, fd.sin(fd.pi * x) * fd.sin(fd.pi * y),
                           fd.sin(2 * fd.pi * x) * fd.sin(fd.pi * y))]
    f1[m.decoder.boundary_dofs] = f2[m.decoder.boundary_dofs] = 0     # sin(π) is 1e-16, not 0
    theta = 2 * math.pi / 17

    def exact(j):
        j = torch.as_tensor(j, dtype=torch.float64)[:, None]
        return c + torch.cos(j * theta) * f1 + torch.sin(j * theta) * f2
    return exact(range(60)), theta, c, exact


def test_leapfrog_with_a_linear_force_is_the_undamped_discrete_oscillator(oscillation):
    """a(u) = -(2 - 2 cos θ)(u - c) continues u_j exactly, 200 steps (12 periods) on, without
    damping; the starting states' boundary values are kept bit for bit."""
    states, theta, c, exact = oscillation
    m = _model()
    with torch.no_grad():                         # the untrained model is the identity on free DOFs
        m.input_scale.fill_(1.0)
        m.output_scale.fill_(-(2 - 2 * math.cos(theta)))
    traj = leapfrog_rollout(m, states[0], states[1], 200, center=c)
    free = torch.ones(states.shape[1], dtype=torch.bool)
    free[m.decoder.boundary_dofs] = False
    assert (traj - exact(range(2, 202)))[:, free].abs().max() < 1e-10
    assert torch.equal(traj[:, ~free], states[0, ~free].expand(200, -1))


def test_leapfrog_map_learns_an_oscillation_frequency(oscillation):
    """Trained on 40 states (2.4 periods), rolled out 3 periods past them: the linear skip starts at
    the least-squares -(2 - 2 cos θ) and stays there, and the rollout keeps phase and amplitude."""
    states, theta, c, exact = oscillation
    m = _model()
    fit_leapfrog_map(m, states[:40], 1, center=c, epochs=60, batch_size=8, lr=1e-2, unroll=3, noise=0.05,
                     progress=False)
    assert abs(m.processor.skip_linear.weight.item() + (2 - 2 * math.cos(theta))) < 1e-3
    traj = leapfrog_rollout(m, states[38], states[39], 51, center=c)
    true = exact(range(40, 91))
    err = (traj - true).norm(dim=1) / (true - c).norm(dim=1)
    assert err.max() < 0.02, err


def test_leapfrog_rejects_bad_input(oscillation):
    states, _, c, _ = oscillation
    m = _model()
    with pytest.raises(ValueError, match="center"):
        fit_leapfrog_map(m, states, 1, center=c[:-1], epochs=1, progress=False)
    with pytest.raises(ValueError, match="unroll"):
        fit_leapfrog_map(m, states[:6], 2, unroll=2, epochs=1, progress=False)
    with pytest.raises(ValueError, match="u_prev"):
        leapfrog_rollout(m, states[0, :-1], states[1], 3)
    bad = states[1].clone()
    bad[4] = float("nan")
    with pytest.raises(ValueError, match="u0"):
        leapfrog_rollout(m, states[0], bad, 3)
