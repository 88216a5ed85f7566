"""The Stokes energy on exactly divergence-free velocities: its minimiser over u = curl ψ converges
to a manufactured Stokes flow, and it is the loss a curl-decoder model trains on."""
import firedrake as fd
import numpy as np
import pytest
import torch

from conftest import taylor_orders
from spon.fem import DivergenceFreeDecoder
from spon.physics import StokesEnergy

DEG = 3


def _decoder(n):
    mesh = fd.UnitSquareMesh(n, n)
    Q, V = fd.FunctionSpace(mesh, "CG", DEG), fd.FunctionSpace(mesh, "RT", DEG)
    dec = DivergenceFreeDecoder(Q, V, bcs=[fd.DirichletBC(Q, 0.0, "on_boundary")]).double()
    with torch.no_grad():
        D = dec(torch.eye(dec.in_dim, dtype=torch.float64)).reshape(dec.in_dim, -1)
    return mesh, V, D


def _manufactured(mesh):
    """u = curl ψ with ψ = (x(1−x)y(1−y))²: zero with its normal derivative on ∂Ω, so u = 0
    there; f = −Δu (p = 0)."""
    x, y = fd.SpatialCoordinate(mesh)
    psi = (x * (1 - x) * y * (1 - y)) ** 2
    u = fd.as_vector([psi.dx(1), -psi.dx(0)])
    return u, -fd.div(fd.grad(u))


@pytest.fixture(scope="module")
def errors():
    out = []
    for n in (4, 8):
        mesh, V, D = _decoder(n)
        F = fd.VectorFunctionSpace(mesh, "CG", 3)
        u_ex, f_ex = _manufactured(mesh)
        f = torch.tensor(fd.Function(F).interpolate(f_ex).dat.data_ro.copy().reshape(1, -1))
        E = StokesEnergy(V, F)
        uh = fd.Function(V)
        uh.dat.data[:] = (E.minimiser(D, f) @ D).reshape(-1).numpy()
        out.append((fd.errornorm(u_ex, uh) / fd.norm(fd.Function(F).interpolate(u_ex)),
                    fd.norm(fd.div(uh)) / fd.norm(uh), E, D, f, uh))
    return out


def test_minimiser_converges_to_the_manufactured_flow_at_third_order(errors):
    """ψ ∈ CG3, u = curl ψ ∈ RT3 (divergence-free P2): the L² error falls as h³."""
    (e1, *_), (e2, *_) = errors
    rate = np.log2(e1 / e2)
    assert e2 < 0.02 and rate > 2.8, (e1, e2, rate)


def test_minimiser_is_divergence_free_to_round_off(errors):
    assert max(e[1] for e in errors) < 1e-11


def test_energy_is_stationary_at_its_minimiser_and_grows_away(errors):
    _, _, E, D, f, _ = errors[0]
    psi = E.minimiser(D, f).requires_grad_(True)
    g, = torch.autograd.grad(E(psi @ D, f).sum(), psi)
    h = torch.randn_like(psi)
    h[:, (D.abs().sum(1) == 0)] = 0
    with torch.no_grad():
        grow = E((psi + 1e-2 * h) @ D, f) - E(psi @ D, f)
    assert g.abs().max() < 1e-10 * E.B.to_dense().abs().max() and float(grow) > 0


def test_taylor_energy(errors):
    """Π(u + εh) − Π(u) − ε ∂Π·h = O(ε²): the gradient training uses."""
    _, _, E, D, f, _ = errors[0]
    u = torch.randn(2, E.n_out, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    orders = taylor_orders(E, u, (f.expand(2, -1),))
    assert orders.min() > 1.9, orders


def test_bad_inputs_are_named(errors):
    _, _, E, D, f, _ = errors[0]
    with pytest.raises(ValueError, match="u: expected shape"):
        E(torch.zeros(1, E.n_out + 1, dtype=torch.float64), f)
    with pytest.raises(ValueError, match="f: expected shape"):
        E(torch.zeros(2, E.n_out, dtype=torch.float64), f)
    with pytest.raises(ValueError, match="D: expected shape"):
        E.minimiser(D[:, :-1], f)
    mesh = fd.UnitSquareMesh(2, 2)
    with pytest.raises(ValueError, match="V: expected an H\\(div\\) space"):
        StokesEnergy(fd.VectorFunctionSpace(mesh, "CG", 2))
