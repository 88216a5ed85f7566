"""Graph and multigrid processors on Taylor–Hood: one shared node graph for velocity and pressure."""
import firedrake as fd
import numpy as np
import pytest
import torch

from spon.fem.layout import dof_coordinates
from spon.mesh import MeshSpec
from spon.models import build_spon
from spon.processors import SharedNodeProcessor
from spon.processors.shared_nodes import host_index, host_space

TH = {"mixed": [{"family": "CG", "degree": 2, "shape": [2]}, {"family": "CG", "degree": 1}]}


@pytest.fixture(scope="module")
def taylor_hood():
    mesh = fd.UnitSquareMesh(4, 3)
    V, Q = fd.VectorFunctionSpace(mesh, "CG", 2), fd.FunctionSpace(mesh, "CG", 1)
    return V * Q


def test_host_index_puts_every_node_on_its_host_node(taylor_hood):
    host = host_space(taylor_hood)
    assert host.ufl_element().degree() == 2 and host.value_shape == ()
    H = dof_coordinates(host)
    for part in taylor_hood:
        X = dof_coordinates(part)
        assert np.abs(H[host_index(host, part)] - X).max() < 1e-14
    with pytest.raises(ValueError, match="is not a node of the host space"):
        host_index(host, fd.FunctionSpace(taylor_hood[1].mesh(), "DG", 0))


def test_scatter_then_gather_is_the_identity(taylor_hood):
    """With an identity inside, the shared-node map returns every part's coefficients exactly."""
    P = SharedNodeProcessor(torch.nn.Identity(), host_space(taylor_hood), taylor_hood, taylor_hood)
    x = torch.randn(3, taylor_hood.dim(), dtype=torch.float64)
    assert torch.equal(P(x), x)


@pytest.mark.parametrize("kind", ["graph", "mg"])
def test_mixed_output_through_a_shared_graph(kind):
    """Velocity and pressure exchange messages; no slip stays exact."""
    extra = {"layers": 2} if kind == "graph" else {"coarse_width": 8, "coarse_layers": 1}
    proc = {"kind": kind, "width": 8, **extra}
    m = build_spon({"mesh": MeshSpec("unit_square", 0.3, 1).to_dict(), "input": TH, "output": TH,
                    "encoder": "coefficients", "decoder": {"kind": "mixed", "parts": [
                        {"kind": "dirichlet", "value": 0.0}, {"kind": "coefficients"}]},
                    "processor": proc, "dtype": "float64"})
    W = m.decoder.V
    nu = W[0].dim()
    x = torch.randn(2, W.dim(), dtype=torch.float64, requires_grad=True)
    y = m(x)
    assert y.shape == (2, W.dim())
    walls = fd.DirichletBC(W.sub(0), fd.Constant((0.0, 0.0)), "on_boundary").nodes
    assert y[:, :nu].reshape(2, -1, 2)[:, walls].abs().max() == 0
    # the pressure output feels the velocity input, and the velocity output the pressure input
    gp = torch.autograd.grad(y[:, nu:].sum(), x, retain_graph=True)[0]
    gu = torch.autograd.grad(y[:, :nu].sum(), x)[0]
    assert gp[:, :nu].abs().max() > 0 and gu[:, nu:].abs().max() > 0


def test_mixed_decoder_takes_each_samples_boundary_data(taylor_hood):
    from spon.fem import CoefficientDecoder, DirichletDecoder, MixedDecoder
    Vu = fd.FunctionSpace(taylor_hood[0].mesh(), taylor_hood[0].ufl_element())
    Vp = fd.FunctionSpace(taylor_hood[1].mesh(), taylor_hood[1].ufl_element())
    dec = MixedDecoder(taylor_hood, [DirichletDecoder(Vu, fd.DirichletBC(Vu, fd.Constant((0.0, 0.0)), (1, 3))),
                                     CoefficientDecoder(Vp)]).double()
    nu = Vu.dim()
    g = torch.randn(2, taylor_hood.dim(), dtype=torch.float64)
    x = torch.randn(2, dec.in_dim, dtype=torch.float64)
    y = dec(x, g=g)
    b = dec.parts[0].boundary_dofs
    assert torch.equal(y[:, :nu][:, b], g[:, :nu][:, b])
    assert torch.equal(y[:, nu:], dec(x)[:, nu:])           # the pressure part takes no boundary data
    with pytest.raises(ValueError, match="g"):
        dec(x, g=torch.randn(2, 5, dtype=torch.float64))


def test_an_identity_start_carries_through_the_shared_graph():
    m = build_spon({"mesh": MeshSpec("unit_square", 0.3, 1).to_dict(), "input": TH, "output": TH,
                    "encoder": "coefficients", "decoder": {"kind": "mixed", "parts": [
                        {"kind": "dirichlet", "value": 0.0}, {"kind": "coefficients"}]},
                    "processor": {"kind": "mg", "width": 4, "coarse_width": 4, "coarse_layers": 1,
                                  "linear_skip": True}, "dtype": "float64"})
    assert m.processor.starts_as_identity
    x = torch.randn(4, m.encoder.U.dim(), dtype=torch.float64)
    m.fit_scales(x, 2 * x)
    with torch.no_grad():
        assert torch.allclose(m(x, g=x), x, atol=1e-12)
