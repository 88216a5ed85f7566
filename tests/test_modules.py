"""FE matrices are buffers: .to() and state_dict() carry them."""
import io

import firedrake as fd
import torch

from conftest import random_function
from spon.fem import DivergenceFreeDecoder, FENorm, L2ProjectionEncoder, mass_matrix, to_tensor


def test_matrices_assembled_once(spaces):
    V = spaces["scalar"]
    assert mass_matrix(V) is mass_matrix(V)
    assert L2ProjectionEncoder(V).M is mass_matrix(V)


def test_state_dict_round_trip(mesh):
    Q, V = fd.FunctionSpace(mesh, "CG", 1), fd.FunctionSpace(mesh, "RT", 1)
    dec = DivergenceFreeDecoder(Q, V)
    # FE matrices are rebuilt from the spaces, never stored: a stored float32 copy would break exactness
    assert "C" not in dec.state_dict() and dec.C.is_sparse
    buf = io.BytesIO()
    torch.save(dec.state_dict(), buf)
    buf.seek(0)
    other = DivergenceFreeDecoder(Q, V)
    other.load_state_dict(torch.load(buf))
    psi = torch.randn(2, Q.dim(), dtype=torch.float64)
    assert torch.equal(dec(psi), other(psi))


def test_to_float32_keeps_values(spaces):
    V = spaces["vector"]
    f = random_function(V, 7)
    n64 = FENorm(V, "H1")(to_tensor(f))
    n32 = FENorm(V, "H1").to(torch.float32)(to_tensor(f, dtype=torch.float32))
    assert n32.dtype == torch.float32
    assert torch.allclose(n32.double(), n64, rtol=1e-5)
