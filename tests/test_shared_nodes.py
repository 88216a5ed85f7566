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
