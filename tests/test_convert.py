"""Functions <-> tensors and encode/decode round trips."""
import firedrake as fd
import pytest
import torch

from conftest import random_function
from spon.fem import (CoefficientDecoder, CoefficientEncoder, L2ProjectionEncoder, SpaceLayout,
                      to_functions, to_tensor)

KINDS = ["scalar", "vector", "tensor", "mixed"]


@pytest.mark.parametrize("kind", KINDS)
def test_tensor_shape_follows_value_shape(spaces, kind):
    V = spaces[kind]
    x = to_tensor([random_function(V, s) for s in range(3)])
    lay = SpaceLayout(V)
    assert x.shape == (3,) + lay.shape
    assert x.dtype == torch.float64
    if kind == "vector":
        assert x.shape[2:] == (2,)
    if kind == "tensor":
        assert x.shape[2:] == (2, 2)
    if kind == "mixed":
        assert x.shape[1] == V.dim()


@pytest.mark.parametrize("kind", KINDS)
def test_function_tensor_round_trip_is_exact(spaces, kind):
    V = spaces[kind]
    fs = [random_function(V, s) for s in range(3)]
    back = to_functions(to_tensor(fs), V)
    for f, g in zip(fs, back):
        with f.dat.vec_ro as a, g.dat.vec_ro as b:
            assert (a.array_r == b.array_r).all()


def test_float32_on_request(spaces):
    V = spaces["scalar"]
    f = random_function(V)
    x = to_tensor(f, dtype=torch.float32)
    assert x.dtype == torch.float32
    assert torch.allclose(x.double(), to_tensor(f), rtol=1e-6)


def test_vector_layout_matches_firedrake_component_order(spaces):
    V = spaces["vector"]
    x, y = fd.SpatialCoordinate(V.mesh())
    f = fd.Function(V).interpolate(fd.as_vector([x, 10 + y]))
    t = to_tensor(f)[0]
    assert torch.allclose(t[:, 0], torch.tensor(f.dat.data_ro[:, 0]))
    assert (t[:, 1] >= 10).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoder", [CoefficientEncoder, L2ProjectionEncoder])
def test_decode_encode_is_identity(spaces, kind, encoder):
    V = spaces[kind]
    fs = [random_function(V, s) for s in range(4)]
    enc, dec = encoder(V), CoefficientDecoder(V)
    u = to_tensor(fs)
    back = dec(enc(u))
    assert torch.max(torch.abs(back - u)) <= 1e-12 * torch.max(torch.abs(u))
    for f, g in zip(fs, dec.decode(enc.encode(fs))):
        assert fd.errornorm(f, g) <= 1e-12 * fd.norm(f)
