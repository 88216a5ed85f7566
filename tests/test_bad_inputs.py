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


# --- beyond the FE maps: processors, meshes, data, models, training, physics -----------------------

def test_processor_parameters():
    from spon.processors import MLPProcessor
    with pytest.raises(ValueError, match=r"activation: expected one of"):
        MLPProcessor(4, 4, activation="swish")
    with pytest.raises(ValueError, match=r"width: expected a positive integer, got 0"):
        MLPProcessor(4, 4, width=0)


def test_graph_on_mixed_space_or_wrong_dimension(spaces):
    from spon.processors import GraphProcessor
    with pytest.raises(ValueError, match=r"V: expected a scalar, vector or tensor space, got a mixed space"):
        GraphProcessor(spaces["mixed"])
    P = GraphProcessor(spaces["vector"], width=4, layers=1)
    with pytest.raises(ValueError, match=r"V: expected a space on a 2D mesh, got 3D"):
        P.bind(fd.VectorFunctionSpace(fd.UnitCubeMesh(1, 1, 1), "CG", 1))


def test_mesh_spec():
    from spon.mesh import MeshSpec
    with pytest.raises(ValueError, match=r"refinements: expected a non-negative integer, got -1"):
        MeshSpec("unit_square", 0.1, -1)
    with pytest.raises(ValueError, match=r"mesh spec: expected keys source, h, refinements"):
        MeshSpec.from_dict({"source": "unit_square"})


def test_corrupt_mesh_file(tmp_path):
    bad = tmp_path / "bad.msh"
    bad.write_text("$MeshFormat\nnot a mesh\n")
    with pytest.raises(ValueError, match=r"source: .* is not a readable gmsh mesh|source: .* holds no mesh nodes"):
        gmsh_mesh(bad)


def test_bc_ids_that_do_not_exist():
    from spon.models import build_spon
    from spon.mesh import MeshSpec
    spec = {"mesh": MeshSpec("unit_square", 0.3).to_dict(), "input": {"family": "CG", "degree": 1},
            "output": {"family": "CG", "degree": 1}, "encoder": "l2",
            "decoder": {"kind": "dirichlet", "boundary": 99}, "processor": {"kind": "mlp", "width": 4}}
    with pytest.raises(ValueError, match=r"spec\['decoder'\]\['boundary'\]: markers \[99\] are not on the mesh"):
        build_spon(spec)
    V = fd.FunctionSpace(gmsh_mesh("unit_square", 0.3), "CG", 1)
    with pytest.raises(ValueError, match=r"bcs\[0\]: BC construction got invalid markers \{99\}"):
        DirichletDecoder(V, fd.DirichletBC(V, 0, 99))


@pytest.mark.parametrize("kwargs,message", [
    ({"low": -3.0}, r"low, high: expected positive conductivities"),
    ({"high": 0.0}, r"low, high: expected positive conductivities"),
])
def test_darcy_nonpositive_conductivity(kwargs, message):
    from spon.data import DarcyProblem
    from spon.mesh import MeshSpec
    with pytest.raises(ValueError, match=message):
        DarcyProblem(MeshSpec("unit_square", 0.3), **kwargs)


@pytest.mark.parametrize("kwargs,message", [
    ({"youngs": 0.0}, r"youngs, poisson: expected E > 0"),
    ({"poisson": 0.5}, r"youngs, poisson: expected E > 0 and -1 < ν < 0.5"),
    ({"mode": "thermal"}, r"mode: expected 'body_force' or 'youngs_modulus'"),
])
def test_elasticity_bad_material(kwargs, message):
    from spon.data import ElasticityProblem
    from spon.mesh import MeshSpec
    with pytest.raises(ValueError, match=message):
        ElasticityProblem(MeshSpec("plate_with_hole", 0.3), **kwargs)


def test_problem_inputs_with_nan():
    from spon.data import PoissonProblem
    from spon.mesh import MeshSpec
    prob = PoissonProblem(MeshSpec("unit_square", 0.3))
    x = torch.zeros(1, prob.input_space.dim(), dtype=torch.float64)
    x[0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"inputs: expected finite values"):
        prob.solve(x, progress=False)


def test_unknown_problem():
    from spon.data import make_problem
    from spon.mesh import MeshSpec
    with pytest.raises(ValueError, match=r"name: expected one of \['darcy', 'elasticity', 'hyperelasticity', 'poisson', 'stokes'\]"):
        make_problem("navier_stokes", MeshSpec())


def test_spon_wrong_parts(spaces):
    from spon import SPON, MLPProcessor
    V = spaces["scalar"]
    with pytest.raises(TypeError, match=r"encoder: expected a spon Encoder"):
        SPON(torch.nn.Identity(), MLPProcessor(2, 2), CoefficientDecoder(V))
    with pytest.raises(TypeError, match=r"decoder: expected a spon Decoder"):
        SPON(CoefficientEncoder(V), MLPProcessor(2, 2), torch.nn.Identity())


def test_trainer_settings(spaces):
    from spon import SPON, MLPProcessor
    from spon.training import Trainer
    V = spaces["dg"]
    model = SPON(CoefficientEncoder(V), MLPProcessor(V.dim(), V.dim(), width=4), CoefficientDecoder(V))
    with pytest.raises(ValueError, match=r"optimizer: expected 'adam' or 'adamw'"):
        Trainer(model, optimizer="sgd")
    with pytest.raises(ValueError, match=r"scheduler: expected 'onecycle', 'cosine' or None"):
        Trainer(model, scheduler="step")


def test_resume_from_a_checkpoint_without_training_state(tmp_path):
    from spon.data import DarcyProblem
    from spon.mesh import MeshSpec
    from spon.models import build_spon, save_checkpoint
    from spon.training import Trainer
    ms = MeshSpec("unit_square", 0.3)
    spec = {"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1},
            "encoder": "l2", "decoder": {"kind": "dirichlet"}, "processor": {"kind": "mlp", "width": 4}}
    model = build_spon(spec)
    save_checkpoint(model, tmp_path / "plain.pt")
    prob = DarcyProblem(ms)
    x = prob.sample_inputs(4, seed=0)
    with pytest.raises(ValueError, match=r"resume: .* holds no training state"):
        Trainer(model, epochs=1, progress=False).fit((x, prob.solve(x, progress=False)), resume=tmp_path / "plain.pt")


def test_hybrid_loss_negative_weight(spaces):
    from spon.physics import HybridLoss
    with pytest.raises(ValueError, match=r"w_physics, w_data: expected non-negative weights"):
        HybridLoss(lambda u: u, w_physics=-1.0)


def test_batch_space_rejects_mixed(spaces):
    from spon.physics import BatchSpace
    with pytest.raises(ValueError, match=r"V: expected a non-mixed space for batching"):
        BatchSpace(spaces["mixed"], 2)


def test_decoder_options(spaces):
    V = spaces["scalar"]
    bc = fd.DirichletBC(V, 0, 1)
    with pytest.raises(ValueError, match=r"lifting: expected 'boundary' or 'harmonic'"):
        DirichletDecoder(V, bc, lifting="linear")
    with pytest.raises(ValueError, match=r"interior: expected 'values', 'inverse_laplacian' or 'inverse_operator'"):
        DirichletDecoder(V, bc, interior="spectral")
    with pytest.raises(ValueError, match=r"lifting, interior: 'harmonic' and 'inverse_laplacian' need"):
        DirichletDecoder(spaces["dg"], fd.DirichletBC(spaces["dg"], 0, 1), lifting="harmonic")


def test_non_periodic_rve():
    from spon.mesh import check_periodic_msh, generate_msh
    with pytest.raises(ValueError, match=r"path: .* is not a periodic RVE"):
        check_periodic_msh(generate_msh("unit_square", 0.2))
