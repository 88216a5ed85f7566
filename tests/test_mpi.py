"""Scale-out on firedrake.Ensemble: `mpiexec -n 2` generation equals the one-process result."""
import os
import shutil
import subprocess
import sys

import pytest
import torch

from spon.data import FEDataset, generate_dataset_ensemble
from spon.mesh import MeshSpec

MPIEXEC = shutil.which("mpiexec")
ARGS = ["--problem", "darcy", "--h", "0.25", "--refinements", "1", "--n", "9", "--seed", "3"]


def mpirun(n, *args, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1",
           "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1"}
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *args], env=env, timeout=timeout,
                          capture_output=True, text=True)


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
