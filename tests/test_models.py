"""SPON = D ∘ P ∘ E keeps the decoder's structure for any weights."""
import firedrake as fd
import pytest
import torch

from conftest import random_function
from spon import SPON, DirichletDecoder, L2ProjectionEncoder, MLPProcessor


def test_spon_exact_bcs_for_random_weights_and_function_input(spaces):
    V = spaces["scalar"]
    bc = fd.DirichletBC(V, 2.5, (1, 3))
    torch.manual_seed(0)
    model = SPON(L2ProjectionEncoder(V), MLPProcessor(V.dim(), V.dim(), width=16), DirichletDecoder(V, bc))
    fs = [random_function(V, s) for s in range(3)]
    out = model(fs)
    assert torch.equal(out[:, model.decoder.boundary_dofs], torch.full((3, model.decoder.n_boundary), 2.5,
                                                                        dtype=torch.float64))
    funcs = model(fs, as_functions=True)
    assert len(funcs) == 3 and funcs[0].function_space() == V


def test_spon_rejects_processor_width_mismatch(spaces):
    V = spaces["scalar"]
    model = SPON(L2ProjectionEncoder(V), MLPProcessor(V.dim(), 7, width=4), DirichletDecoder(V, fd.DirichletBC(V, 0, 1)))
    with pytest.raises(ValueError, match=rf"processor: expected outputs of shape \(batch, {V.dim()}\)"):
        model(torch.zeros(1, V.dim(), dtype=torch.float64))
