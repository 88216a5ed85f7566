"""Models built from a user's own Firedrake mesh, spaces and BCs: checkpoints and Function I/O."""
import os
import subprocess
import sys

import firedrake as fd
import numpy as np
import pytest
import torch

from spon.fem import DirichletDecoder, L2ProjectionEncoder, load_functions, save_functions, to_tensor
from spon.models import SPON, load_checkpoint, save_checkpoint
from spon.processors import GraphProcessor, MultigridProcessor


@pytest.fixture(scope="module")
def user_model():
    base = fd.UnitSquareMesh(4, 4, name="user_base")
    hierarchy = fd.MeshHierarchy(base, 2)
    spaces = [fd.FunctionSpace(m, "CG", 1) for m in hierarchy]
    U, V = fd.FunctionSpace(hierarchy[-1], "DG", 0), spaces[-1]
    bc = fd.DirichletBC(V, 0.5, (1, 3))
    torch.manual_seed(0)
    model = SPON(L2ProjectionEncoder(U, V), MultigridProcessor(spaces, width=8, coarse_width=8, smooth=1,
                                                               coarse_layers=1), DirichletDecoder(V, bc))
    rng = np.random.default_rng(0)
    inputs = [fd.Function(U).assign(0) for _ in range(3)]
    for f in inputs:
        f.dat.data[:] = rng.uniform(1, 10, U.dim())
    return model, U, V, bc, inputs


def test_functions_written_with_checkpointfile_read_back_equal(tmp_path, user_model):
    _, U, V, _, inputs = user_model
    path = save_functions(tmp_path / "k.h5", to_tensor(inputs), U, name="kappa")
    back = load_functions(path, name="kappa")
    assert len(back) == 3 and back[0].function_space().ufl_element() == U.ufl_element()
    assert torch.equal(to_tensor(back), to_tensor(inputs))
    with pytest.raises(ValueError, match="holds no batch 'u'"):
        load_functions(path, name="u")
    with pytest.raises(ValueError, match="values: expected finite values"):
        save_functions(tmp_path / "nan.h5", torch.full((1, U.dim()), float("nan")), U)
    assert not (tmp_path / "nan.h5").exists()


def test_user_space_model_reloads_bit_identical_in_a_fresh_process(tmp_path, user_model):
    model, U, V, bc, inputs = user_model
    with torch.no_grad():
        want = model(inputs, as_functions=True)
    save_checkpoint(model, tmp_path / "user.pt")
    assert (tmp_path / "user.mesh.h5").is_file()
    save_functions(tmp_path / "inputs.h5", to_tensor(inputs), U, name="kappa")
    save_functions(tmp_path / "want.h5", to_tensor(want), V, name="u")
    code = (
        f"import torch; torch.set_num_threads({torch.get_num_threads()})\n"
        "from spon.models import load_checkpoint\n"
        "from spon.fem import load_functions, save_functions, to_tensor\n"
        f"m = load_checkpoint({str(tmp_path / 'user.pt')!r})\n"
        f"k = load_functions({str(tmp_path / 'inputs.h5')!r}, name='kappa', V=m.encoder.U)\n"
        "with torch.no_grad():\n"
        "    out = m(to_tensor(k, m.encoder.U))\n"
        f"save_functions({str(tmp_path / 'got.h5')!r}, out, m.decoder.V, name='u')\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    got = load_functions(tmp_path / "got.h5", name="u")
    ref = load_functions(tmp_path / "want.h5", name="u")
    assert torch.equal(to_tensor(got), to_tensor(ref))
    again = load_checkpoint(tmp_path / "user.pt")
    assert again.spec["decoder"] == {"kind": "dirichlet", "value": 0.5, "boundary": [1, 3], "lifting": "boundary",
                                     "interior": "values"}


def test_what_a_spec_cannot_describe_is_refused(tmp_path):
    mesh = fd.UnitSquareMesh(3, 3)
    V = fd.FunctionSpace(mesh, "CG", 1)
    model = SPON(L2ProjectionEncoder(V, V), torch.nn.Linear(V.dim(), V.dim()).double(),
                 DirichletDecoder(V, fd.DirichletBC(V, 0.0, "on_boundary")))
    with pytest.raises(ValueError, match="model: cannot checkpoint a processor of kind Linear; registered kinds"):
        save_checkpoint(model, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "m.mesh.h5").exists()


@pytest.mark.parametrize("processor", ["mg", "graph"])
def test_vector_user_model_round_trips(tmp_path, processor):
    """A displacement model on a user's vector spaces (clamped on boundary 1) reloads equal."""
    hierarchy = fd.MeshHierarchy(fd.UnitSquareMesh(3, 3, name="vec_base"), 1)
    spaces = [fd.VectorFunctionSpace(m, "CG", 1) for m in hierarchy]
    V = spaces[-1]
    bc = fd.DirichletBC(V, fd.Constant((0.0, 0.0)), 1)
    torch.manual_seed(0)
    proc = (MultigridProcessor(spaces, width=8, coarse_width=8, smooth=1, coarse_layers=1) if processor == "mg"
            else GraphProcessor(V, width=8, layers=1))
    model = SPON(L2ProjectionEncoder(V, V), proc, DirichletDecoder(V, bc))
    x = torch.randn(2, V.dim(), dtype=torch.float64)
    save_checkpoint(model, tmp_path / "vec.pt")
    again = load_checkpoint(tmp_path / "vec.pt")
    assert again.spec["output"] == {"family": "Lagrange", "degree": 1, "shape": [2]}
    assert again.spec["decoder"]["value"] == 0.0 and again.spec["decoder"]["boundary"] == [1]
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
        assert again(x).reshape(2, -1)[:, again.decoder.boundary_dofs].abs().max() == 0
