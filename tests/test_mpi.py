"""Scale-out on firedrake.Ensemble: `mpiexec -n 2` generation equals the one-process result."""
import shutil
import subprocess
import sys

import pytest
import torch

from spon.data import FEDataset, generate_dataset_ensemble
from spon.ensemble import mpiexec_env
from spon.mesh import MeshSpec

MPIEXEC = shutil.which("mpiexec")
ARGS = ["--problem", "darcy", "--h", "0.25", "--refinements", "1", "--n", "9", "--seed", "3"]


def mpirun(n, *args, timeout=600):
    env = {**mpiexec_env(), "OMP_NUM_THREADS": "1"}
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *args], env=env, timeout=timeout,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


@pytest.mark.skipif(MPIEXEC is None, reason="needs mpiexec (Debian's openmpi-bin, installed by make)")
def test_two_member_generation_equals_serial(tmp_path):
    generate_dataset_ensemble("darcy", MeshSpec("unit_square", 0.25, 1), 9, tmp_path / "serial.h5", seed=3)
    r = mpirun(2, "-m", "spon.data.parallel", *ARGS, "--out", str(tmp_path / "par.h5"))
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = FEDataset(tmp_path / "serial.h5"), FEDataset(tmp_path / "par.h5")
    assert b.meta["members"] == 2 and a.meta["members"] == 1
    assert torch.max(torch.abs(a.inputs - b.inputs)) <= 1e-10
    assert torch.max(torch.abs(a.outputs - b.outputs)) <= 1e-10 * torch.max(torch.abs(a.outputs))
    assert not list(tmp_path.glob("*.tmp"))


def test_per_sample_streams_do_not_depend_on_the_split():
    from spon.data import DarcyProblem
    prob = DarcyProblem(MeshSpec("unit_square", 0.25, 1))
    whole = prob.sample_inputs(5, seed=3, start=0)
    parts = torch.cat([prob.sample_inputs(2, seed=3, start=0), prob.sample_inputs(3, seed=3, start=2)])
    assert torch.equal(whole, parts)
    assert not torch.equal(whole[0], whole[1])


PHYSICS = r"""
import sys, numpy as np, torch
import firedrake as fd
from firedrake import COMM_WORLD
from spon.mesh import MeshSpec, build_mesh
from spon.physics import EnsembleFunctional, ResidualFunctional, ReducedFunctional

def make(kind):
    def build(comm):
        mesh = build_mesh(MeshSpec("unit_square", 0.25, 1), comm)
        V, K = fd.FunctionSpace(mesh, "CG", 1), fd.FunctionSpace(mesh, "DG", 0)
        if kind == "residual":
            return ResidualFunctional(V, lambda u, v, k: k * (1 + u ** 2) * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx
                                      - v * fd.dx, bcs=[fd.DirichletBC(V, 0, "on_boundary")], norm="H1",
                                      data_spaces=[K])
        def misfit(m, k):
            u = fd.Function(V)
            w, v = fd.TrialFunction(V), fd.TestFunction(V)
            dx = fd.dx(degree=4)
            fd.solve(k * fd.exp(m) * fd.inner(fd.grad(w), fd.grad(v)) * dx == v * dx, u,
                     bcs=fd.DirichletBC(V, 0, "on_boundary"))
            return fd.assemble(1e3 * u ** 2 * dx)
        return ReducedFunctional(V, misfit, data_spaces=[K])
    return build

def run(kind, ensemble=None):
    g = torch.Generator().manual_seed(0)
    if ensemble is None:
        F = make(kind)(COMM_WORLD)
    else:
        F = EnsembleFunctional(make(kind), ensemble)
    u = (0.3 * torch.randn(5, F.V.dim(), generator=g, dtype=torch.float64)).requires_grad_(True)
    k = 1 + torch.rand(5, F.data_spaces[0].dim(), generator=g, dtype=torch.float64)
    J = F(u, k)
    J.sum().backward()
    return J.detach().numpy(), u.grad.numpy()

if __name__ == "__main__":
    out = {}
    ens = fd.Ensemble(COMM_WORLD, 1)
    for kind in ("residual", "reduced"):
        J, g = run(kind, ens)
        out[kind + "_J"], out[kind + "_g"] = J, g
    if COMM_WORLD.rank == 0:
        np.savez(sys.argv[1], **out)
"""


@pytest.mark.skipif(MPIEXEC is None, reason="needs mpiexec")
def test_physics_batches_over_two_members_equal_serial(tmp_path):
    script = tmp_path / "phys.py"
    script.write_text(PHYSICS)
    r = mpirun(2, str(script), str(tmp_path / "par.npz"))
    assert r.returncode == 0, r.stderr[-2000:]
    import importlib.util
    import numpy as np
    spec = importlib.util.spec_from_file_location("phys", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    par = np.load(tmp_path / "par.npz")
    for kind in ("residual", "reduced"):
        J, g = mod.run(kind)
        assert np.max(np.abs(par[kind + "_J"] - J)) <= 1e-10 * np.max(np.abs(J))
        assert np.max(np.abs(par[kind + "_g"] - g)) <= 1e-10 * np.max(np.abs(g))


FE2 = r"""
import json, sys
import firedrake as fd
from firedrake import COMM_WORLD
from spon.mesh import gmsh_mesh, rve_mesh
from spon.multiscale import RVEProblem, equino_materials
from spon.multiscale.macro import FE2Material, MacroProblem

ens = fd.Ensemble(COMM_WORLD, 1) if COMM_WORLD.size > 1 else None
comm = ens.comm if ens else COMM_WORLD
rve = RVEProblem(rve_mesh("fibre", h=0.2, comm=comm), equino_materials(), degree=1)
mat = FE2Material(rve, ensemble=ens)
mp = MacroProblem(gmsh_mesh("cook_membrane", h=24.0, comm=comm), mat, degree=1)
st = mp.step(1.0)
if COMM_WORLD.rank == 0:
    json.dump({"reaction": st.reaction, "residuals": st.residuals, "solves": mat.solves}, open(sys.argv[1], "w"))
"""


@pytest.mark.skipif(MPIEXEC is None, reason="needs mpiexec (Debian's openmpi-bin, installed by make)")
def test_fe2_micro_solves_split_over_ensemble_members(tmp_path):
    import json
    script = tmp_path / "fe2.py"
    script.write_text(FE2)
    for n in (1, 2):
        r = mpirun(n, str(script), str(tmp_path / f"fe2_{n}.json"))
        assert r.returncode == 0, r.stderr[-2000:]
    one, two = (json.loads((tmp_path / f"fe2_{n}.json").read_text()) for n in (1, 2))
    assert abs(one["reaction"] - two["reaction"]) < 1e-10 * abs(one["reaction"])
    assert len(one["residuals"]) == len(two["residuals"])
    assert two["solves"] < one["solves"]    # rank 0 solved only its share


@pytest.mark.skipif(MPIEXEC is None, reason="needs mpiexec (Debian's openmpi-bin, installed by make)")
def test_spon_fe2_reference_over_two_ranks_equals_serial(tmp_path):
    import json

    from spon.cli import main
    args = ["fe2", "--material", "reference", "--rve-h", "0.2", "--h", "24", "--degree", "1",
            "--displacement", "0.5", "--steps", "2"]
    for n in (1, 2):
        assert main([*args, "--nproc", str(n), "--out", str(tmp_path / f"n{n}")]) == 0
    one, two = (json.loads((tmp_path / f"n{n}" / "history.json").read_text()) for n in (1, 2))
    assert two["ranks"] == 2 and one["ranks"] == 1
    for a, b in zip(one["steps"], two["steps"]):
        assert abs(a["reaction"] - b["reaction"]) < 1e-10 * abs(a["reaction"])
    assert two["micro_solves"] < one["micro_solves"]      # rank 0 solved its share only
