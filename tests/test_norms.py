"""Torch FE norms equal Firedrake's assembled forms; losses are differentiable."""
import firedrake as fd
import pytest
import torch

from conftest import random_function
from spon.fem import FELoss, FENorm, to_tensor

FORMS = {
    "L2": lambda u: fd.inner(u, u) * fd.dx,
    "H1_semi": lambda u: fd.inner(fd.grad(u), fd.grad(u)) * fd.dx,
    "H1": lambda u: (fd.inner(u, u) + fd.inner(fd.grad(u), fd.grad(u))) * fd.dx,
}


@pytest.mark.parametrize("kind", list(FORMS))
@pytest.mark.parametrize("space", ["scalar", "vector", "tensor"])
def test_norm_matches_assemble(spaces, kind, space):
    V = spaces[space]
    fs = [random_function(V, s) for s in range(3)]
    got = FENorm(V, kind)(to_tensor(fs))
    want = torch.tensor([fd.assemble(FORMS[kind](f)) ** 0.5 for f in fs], dtype=torch.float64)
    assert torch.allclose(got, want, rtol=1e-12, atol=0)


def test_mixed_l2_norm_matches_assemble(spaces):
    W = spaces["mixed"]
    f = random_function(W, 3)
    u, p = fd.split(f)
    want = fd.assemble((fd.inner(u, u) + p * p) * fd.dx) ** 0.5
    assert abs(FENorm(W)(to_tensor(f)).item() - want) <= 1e-12 * want


def test_relative_error_matches_errornorm(spaces):
    V = spaces["scalar"]
    a, b = random_function(V, 1), random_function(V, 2)
    got = FENorm(V, "H1").relative_error(to_tensor(a), to_tensor(b)).item()
    want = fd.errornorm(b, a, "H1") / fd.norm(b, "H1")
    assert abs(got - want) <= 1e-12 * want


@pytest.mark.parametrize("kind", list(FORMS))
@pytest.mark.parametrize("relative", [True, False])
def test_loss_gradcheck(small_mesh, kind, relative):
    V = fd.FunctionSpace(small_mesh, "CG", 1)
    loss = FELoss(V, kind, relative=relative)
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(2, V.dim(), generator=g, dtype=torch.float64, requires_grad=True)
    true = torch.randn(2, V.dim(), generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (pred, true))


def test_l2_projection_encoder_gradcheck(small_mesh):
    """The CG solve inside the L² projection has an exact adjoint (one more solve)."""
    from spon.fem import L2ProjectionEncoder
    U = fd.FunctionSpace(small_mesh, "DG", 0)
    V = fd.FunctionSpace(small_mesh, "CG", 1)
    enc = L2ProjectionEncoder(U, V)
    x = torch.randn(2, U.dim(), generator=torch.Generator().manual_seed(0), dtype=torch.float64,
                    requires_grad=True)
    assert torch.autograd.gradcheck(enc, (x,))


def test_mixed_loss_averages_each_parts_relative_error():
    """On Taylor–Hood the loss is the mean of the velocity's and the pressure's relative errors."""
    import firedrake as fd
    from spon.fem import FELoss, FENorm
    m = fd.UnitSquareMesh(4, 4)
    V, Q = fd.VectorFunctionSpace(m, "CG", 2), fd.FunctionSpace(m, "CG", 1)
    W = V * Q
    g = torch.Generator().manual_seed(0)
    true, pred = torch.randn(3, W.dim(), generator=g, dtype=torch.float64), torch.randn(3, W.dim(), generator=g,
                                                                                        dtype=torch.float64)
    true[:, V.dim():] *= 100.0       # a pressure far larger than the velocity
    n = V.dim()
    ru = FENorm(V).relative_error(pred[:, :n], true[:, :n]) ** 2
    rp = FENorm(Q).relative_error(pred[:, n:], true[:, n:]) ** 2
    assert torch.allclose(FELoss(W)(pred, true), ((ru + rp) / 2).mean(), rtol=1e-12)
    whole = FENorm(W).relative_error(pred, true) ** 2
    assert torch.allclose(FELoss(W, per_part=False)(pred, true), whole.mean(), rtol=1e-12)
