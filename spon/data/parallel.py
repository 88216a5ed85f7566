"""Data generation over a ``firedrake.Ensemble``: one sample slice per member.

Every member builds the problem on its own sub-communicator, draws only its
samples (each sample has its own random stream, so the set does not depend on
how it is split), solves them with its reused solver, and member 0 gathers and
writes the dataset. Run under MPI::

    mpiexec -n 2 python -m spon.data.parallel --problem darcy --n 64 --out data.h5
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write_json
from ..ensemble import member_range
from ..mesh.spec import MeshSpec
from ..fem.space_spec import space_spec
from .dataset import write_dataset
from .problems import make_problem

__all__ = ["generate_dataset_ensemble"]


def generate_dataset_ensemble(problem: str, mesh_spec: MeshSpec, n: int, path, seed: int = 0,
                              ensemble=None, ranks_per_member: int = 1, **params) -> dict:
    """Generate ``n`` samples of ``problem`` across the members of ``ensemble``.

    Returns timing information on every rank; the dataset is written by the
    first rank of member 0. The result equals a one-process run bit for bit up
    to solver round-off (the tests check 1e-10).
    """
    import firedrake as fd

    ens = ensemble or fd.Ensemble(fd.COMM_WORLD, ranks_per_member)
    member, members = ens.ensemble_comm.rank, ens.ensemble_comm.size
    prob = make_problem(problem, mesh_spec, comm=ens.comm, **params)
    lo, hi = member_range(n, members, member)
    ens.global_comm.barrier()
    t0 = time.perf_counter()
    x = prob.sample_inputs(hi - lo, seed=seed, start=lo) if hi > lo else None
    y = prob.solve(x, progress=False) if x is not None else None
    parts = ens.ensemble_comm.gather(None if x is None else (x.numpy(), y.numpy()), root=0)
    ens.global_comm.barrier()
    seconds = time.perf_counter() - t0
    if member == 0 and ens.comm.rank == 0:
        parts = [p for p in parts if p is not None]
        X = torch.as_tensor(np.concatenate([p[0] for p in parts]))
        Y = torch.as_tensor(np.concatenate([p[1] for p in parts]))
        meta = prob.metadata() | {"seed": seed, "n": n, "seeding": "per_sample", "members": members,
                                  "input_element": space_spec(prob.input_space),
                                  "output_element": space_spec(prob.output_space)}
        write_dataset(path, X, Y, meta, prob.input_space, prob.output_space)
    ens.global_comm.barrier()
    return {"seconds": seconds, "members": members, "samples_per_second": n / seconds}


def main(argv=None):
    p = argparse.ArgumentParser(description="Generate a dataset across firedrake.Ensemble members.")
    p.add_argument("--problem", default="darcy")
    p.add_argument("--mesh", default="unit_square")
    p.add_argument("--h", type=float, default=0.1)
    p.add_argument("--refinements", type=int, default=2)
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--timing", type=Path, help="write the timing JSON here (first rank)")
    a = p.parse_args(argv)
    info = generate_dataset_ensemble(a.problem, MeshSpec(a.mesh, a.h, a.refinements), a.n, a.out, seed=a.seed)
    from firedrake import COMM_WORLD
    if COMM_WORLD.rank == 0:
        print(json.dumps(info))
        if a.timing:
            atomic_write_json(a.timing, info)


if __name__ == "__main__":
    main()
