"""Training a one-step increment map on a trajectory (noise, pushforward): it learns a
linear decay, it is deterministic, and it refuses states of the wrong shape."""
import firedrake as fd
import pytest
import torch

from spon.mesh import MeshSpec
from spon.models import build_spon, rollout
from spon.training import fit_increment_map


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
