"""Input on another gmsh mesh of the same domain, brought onto the model's space."""
import firedrake as fd
import numpy as np
import pytest
import torch

from spon.fem import FENorm, L2ProjectionEncoder, TransferEncoder, to_tensor
from spon.mesh import gmsh_mesh


def _f(mesh):
    x, y = fd.SpatialCoordinate(mesh)
    return fd.sin(np.pi * x) * fd.cos(2 * y) + x * y


@pytest.fixture(scope="module")
def mesh_pairs():
    # model mesh A_h and a non-nested user mesh B_h of the same square
    return [(gmsh_mesh("unit_square", h, name=f"A{h}"), gmsh_mesh("unit_square", 0.71 * h, name=f"B{h}"))
            for h in (0.2, 0.1, 0.05)]


@pytest.mark.parametrize("method", ["interpolate", "l2"])
def test_transfer_converges_at_rate_two(mesh_pairs, method):
    errs, hs = [], []
    for (A, B), h in zip(mesh_pairs, (0.2, 0.1, 0.05)):
        VA, VB = fd.FunctionSpace(A, "CG", 1), fd.FunctionSpace(B, "CG", 1)
        fA = fd.Function(VA).interpolate(_f(A))
        fB = fd.Function(VB).interpolate(_f(B))
        enc = TransferEncoder(VB, VA, method=method)
        diff = enc(to_tensor(fB)) - to_tensor(fA)
        errs.append(FENorm(VA)(diff).item())
        hs.append(h)
    rates = np.log(np.array(errs[:-1]) / errs[1:]) / np.log(2)
    assert errs[-1] < errs[0]
    assert rates.min() > 1.7, (errs, rates)


def test_l2_transfer_reproduces_shared_polynomials(mesh_pairs):
    A, B = mesh_pairs[0]
    VA, VB = fd.FunctionSpace(A, "CG", 1), fd.FunctionSpace(B, "CG", 1)
    x, y = fd.SpatialCoordinate(B)
    lin = fd.Function(VB).interpolate(1 + 2 * x - y)
    xa, ya = fd.SpatialCoordinate(A)
    want = to_tensor(fd.Function(VA).interpolate(1 + 2 * xa - ya))
    got = L2ProjectionEncoder(VB, VA)(to_tensor(lin))
    assert torch.max(torch.abs(got - want)) <= 1e-10
