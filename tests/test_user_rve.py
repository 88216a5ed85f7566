"""A user's own periodic RVE file and materials through the whole FE² pipeline:
snapshots, EquiNO, a saved surrogate, and `spon fe2` with both constitutive responses."""
import json
import shutil

import numpy as np
import pytest

fd = pytest.importorskip("firedrake")

from spon.cli import main  # noqa: E402
from spon.mesh import read_mesh, rve_msh  # noqa: E402
from spon.multiscale import (FE2Material, LinearElastic, NonlinearElasticMatrix, RVEProblem,  # noqa: E402
                             load_surrogate, save_surrogate)
from spon.multiscale.materials import material_spec, materials_from_spec  # noqa: E402
from spon.multiscale.workflow import rve_problem, run_macro, train_surrogates  # noqa: E402


class SoftFibre(LinearElastic):
    """A user's law, defined outside spon."""


MATS = {1: NonlinearElasticMatrix(K=3000.0, a=40.0, b=0.05), 2: SoftFibre(K=20000.0, G=12000.0)}


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """A gmsh-scripted periodic cell, handed over as the user's own file."""
    path = tmp_path_factory.mktemp("rve") / "my_cell.msh"
    shutil.copy(rve_msh("three_circles", h=0.2), path)
    return path


def test_user_material_class_round_trips_through_its_spec():
    spec = json.loads(json.dumps(material_spec(MATS)))
    assert spec["2"][0].endswith("test_user_rve.SoftFibre")
    back = materials_from_spec(spec, strict=True)
    assert type(back[2]).__name__ == "SoftFibre" and back[2].params() == MATS[2].params()
    with pytest.raises(ValueError, match="'Bogus' is neither a spon material"):
        materials_from_spec({"1": ["Bogus", {}]}, strict=True)
    with pytest.raises(ValueError, match=r"materials\[1\]: LinearElastic"):
        materials_from_spec({"1": ["LinearElastic", {"E": 1.0}]}, strict=True)


def test_user_rve_file_trains_equino_and_runs_fe2(cell, tmp_path, capsys):
    S = train_surrogates(str(cell), materials=MATS, n_train=12, n_test=4, adam_steps=40, lbfgs_steps=0,
                         collocation=32, mlp=False, progress=False)
    assert S["equino"].meta["rve"]["mesh_file"] == str(cell)
    assert S["rve"].materials is not None and S["rve"].V.dim() > 0
    assert np.isfinite(S["errors"]["equino"]["sigma_bar"])
    ck = tmp_path / "my_equino.pt"
    save_surrogate(S["equino"], ck)
    assert type(load_surrogate(ck).materials[2]).__name__ == "SoftFibre"   # imported back by name

    common = ["--mesh", "cook_membrane", "--h", "24", "--degree", "1", "--displacement", "0.3", "--steps", "1",
              "--materials", json.dumps(material_spec(MATS))]
    assert main(["fe2", "--material", "reference", "--rve", str(cell), "--out", str(tmp_path / "ref"), *common]) == 0
    assert main(["fe2", "--material", "surrogate", "--surrogate", str(ck), "--out", str(tmp_path / "sur"),
                 *common]) == 0
    ref = json.loads((tmp_path / "ref" / "history.json").read_text())["steps"][0]["reaction"]
    sur = json.loads((tmp_path / "sur" / "history.json").read_text())["steps"][0]["reaction"]
    # the CLI's reference FE² is the user's cell with the user's laws
    rve = RVEProblem(read_mesh(cell, periodic=True), MATS)
    _, hist, _ = run_macro(fd.Mesh(_cook()), FE2Material(rve),
                           [0.3], degree=1, progress=False)
    assert abs(hist[0].reaction - ref) < 1e-9 * abs(ref)
    assert sur > 0 and abs(sur - ref) < 0.5 * ref        # a 40-step surrogate: same sign and scale


def _cook():
    from spon.mesh import generate_msh
    return str(generate_msh("cook_membrane", h=24.0))


def test_bad_user_rve_inputs(cell, tmp_path, capsys):
    assert main(["fe2", "--material", "reference", "--rve", str(tmp_path / "none.msh"), "--h", "24",
                 "--out", str(tmp_path)]) == 2
    assert "rve: expected one of" in capsys.readouterr().err
    assert main(["fe2", "--material", "reference", "--rve", str(cell), "--materials", '{"1": ["Bogus", {}]}',
                 "--h", "24", "--out", str(tmp_path)]) == 2
    assert "Bogus" in capsys.readouterr().err
    assert main(["fe2", "--material", "reference", "--rve", str(cell), "--materials",
                 json.dumps(material_spec({1: MATS[1]})), "--h", "24", "--out", str(tmp_path)]) == 2
    assert "without exactly one material" in capsys.readouterr().err
    plain = tmp_path / "plain.msh"
    from spon.mesh import generate_msh
    plain.write_bytes(generate_msh("l_shape", h=0.5).read_bytes())
    with pytest.raises(ValueError, match="not a periodic RVE"):
        rve_problem(str(plain))
