"""Bad input to the FE maps raises errors naming the argument and what was expected."""
import firedrake as fd
import pytest
import torch

from conftest import random_function
from spon.fem import (CoefficientEncoder, DirichletDecoder, DivergenceFreeDecoder, FELoss, FENorm,
                      L2ProjectionEncoder, MixedDecoder, CoefficientDecoder, TransferEncoder,
                      to_functions, to_tensor)
from spon.mesh import gmsh_mesh


def test_wrong_shape(spaces):
    V = spaces["scalar"]
    with pytest.raises(ValueError, match=rf"x: expected shape \(batch, {V.dim()}\)"):
        CoefficientEncoder(V)(torch.zeros(2, V.dim() + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"u: expected shape"):
        FENorm(V)(torch.zeros(V.dim(), dtype=torch.float64))


def test_wrong_dtype(spaces):
    V = spaces["scalar"]
    with pytest.raises(TypeError, match=r"x: expected dtype torch.float64, got torch.float32"):
        L2ProjectionEncoder(V)(torch.zeros(1, V.dim(), dtype=torch.float32))
    # after .to(float32) the module expects float32
    enc = L2ProjectionEncoder(V).to(torch.float32)
    with pytest.raises(TypeError, match=r"expected dtype torch.float32"):
        enc(torch.zeros(1, V.dim(), dtype=torch.float64))


def test_wrong_device(spaces):
    V = spaces["scalar"]
    with pytest.raises(ValueError, match=r"x: expected a tensor on device cpu, got meta"):
        CoefficientDecoder(V)(torch.zeros(1, V.dim(), dtype=torch.float64, device="meta"))


def test_wrong_space_function(spaces):
    f = random_function(spaces["dg"])
    with pytest.raises(ValueError, match=r"functions\[0\]: expected a Function on"):
        to_tensor([f], spaces["scalar"])
    with pytest.raises(TypeError, match=r"functions\[1\]: expected a firedrake Function"):
        to_tensor([random_function(spaces["scalar"]), 3.0])


def test_wrong_bc_space(spaces):
    bc = fd.DirichletBC(spaces["vector"], fd.as_vector([0, 0]), 1)
    with pytest.raises(ValueError, match=r"bcs\[0\]: expected a DirichletBC on the decoder's space"):
        DirichletDecoder(spaces["scalar"], [bc])
    with pytest.raises(TypeError, match=r"bcs\[0\]: expected a firedrake DirichletBC"):
        DirichletDecoder(spaces["scalar"], ["on_boundary"])


def test_nan_coefficients(spaces):
    V = spaces["scalar"]
    x = torch.zeros(1, V.dim(), dtype=torch.float64)
    x[0, 3] = float("nan")
    with pytest.raises(ValueError, match=r"x: expected finite values, found 1 NaN/Inf"):
        to_functions(x, V)
    with pytest.raises(ValueError, match=r"x: expected finite values"):
        DirichletDecoder(V, fd.DirichletBC(V, 0, 1))(x)


def test_per_sample_bc_batch_mismatch(spaces):
    V = spaces["scalar"]
    dec = DirichletDecoder(V, fd.DirichletBC(V, 0, "on_boundary"))
    with pytest.raises(ValueError, match=r"g: expected batch size 2"):
        dec(torch.zeros(2, V.dim(), dtype=torch.float64), torch.zeros(3, dec.n_boundary, dtype=torch.float64))


def test_loss_shape_mismatch(spaces):
    V = spaces["scalar"]
    with pytest.raises(ValueError, match=r"true: expected shape"):
        FELoss(V)(torch.zeros(2, V.dim(), dtype=torch.float64), torch.zeros(2, 5, dtype=torch.float64))


def test_bad_divergence_free_spaces(mesh):
    with pytest.raises(ValueError, match=r"V: expected an RT or BDM space"):
        DivergenceFreeDecoder(fd.FunctionSpace(mesh, "CG", 1), fd.VectorFunctionSpace(mesh, "CG", 1))
    with pytest.raises(ValueError, match=r"Q: expected a scalar CG space"):
        DivergenceFreeDecoder(fd.FunctionSpace(mesh, "DG", 1), fd.FunctionSpace(mesh, "RT", 1))


def test_mixed_decoder_wrong_parts(spaces):
    W = spaces["mixed"]
    with pytest.raises(ValueError, match=r"decoders: expected 2 decoders"):
        MixedDecoder(W, [CoefficientDecoder(spaces["vector"])])
    with pytest.raises(ValueError, match=r"decoders\[1\]: expected a decoder into W.sub\(1\)"):
        MixedDecoder(W, [CoefficientDecoder(W.sub(0).collapse()), CoefficientDecoder(spaces["dg"])])


def test_bad_transfer_method(spaces):
    with pytest.raises(ValueError, match=r"method: expected 'interpolate' or 'l2'"):
        TransferEncoder(spaces["scalar"], spaces["scalar"], method="nearest")


def test_bad_norm_kind(spaces):
    with pytest.raises(ValueError, match=r"kind: expected one of"):
        FENorm(spaces["scalar"], "H2")


def test_missing_mesh_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"source: expected a .geo/.msh file"):
        gmsh_mesh(tmp_path / "nope.msh")


def test_mesh_without_physical_groups(tmp_path, monkeypatch):
    monkeypatch.setenv("SPON_CACHE", str(tmp_path / "cache"))
    geo = tmp_path / "bare.geo"
    geo.write_text("Point(1)={0,0,0};Point(2)={1,0,0};Point(3)={0,1,0};"
                   "Line(1)={1,2};Line(2)={2,3};Line(3)={3,1};Curve Loop(1)={1,2,3};Plane Surface(1)={1};\n")
    with pytest.raises(ValueError, match=r"source: .* no physical groups"):
        gmsh_mesh(geo, h=0.3)
    assert not list((tmp_path / "cache").rglob("*.msh*"))  # nothing half-written


def test_bad_mesh_size():
    with pytest.raises(ValueError, match=r"h: expected a positive mesh size"):
        gmsh_mesh("unit_square", h=-1.0)
