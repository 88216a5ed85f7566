"""Data-parallel training on torch.distributed: process groups started by ``torchrun``.

Every rank builds its own copy of the model, so every rank assembles the FE
matrices it needs with Firedrake on ``COMM_SELF`` (:func:`fe_comm`): ``torchrun``
starts each rank as a one-process MPI job, and under ``mpiexec``/``srun``
(several nodes) the FE work must not span ranks either. Gradients are averaged
by :class:`~torch.nn.parallel.DistributedDataParallel`; the data are split by a
:class:`~torch.utils.data.distributed.DistributedSampler`.

Multi-node: start the same command on every node with the launcher's rendezvous,
for example ``torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d
--rdzv-endpoint $HEAD:29500 -m spon.cli train ...`` (under SLURM, one ``srun``
task per node runs that line). ``spon train --nproc N`` is the one-node shortcut.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["init_from_env", "rank_and_world", "fe_comm", "all_reduce_sum", "launch"]


def rank_and_world() -> tuple[int, int]:
    """``(rank, world size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: str = "cpu") -> tuple[int, int, torch.device]:
    """Join the process group ``torchrun`` describes in the environment.

    gloo on CPU, NCCL on CUDA (each rank then takes ``cuda:LOCAL_RANK``). Without
    ``WORLD_SIZE`` > 1 in the environment nothing is started. Returns ``(rank, world, device)``.
    """
    device = torch.device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def fe_comm():
    """The MPI communicator for this rank's FE assembly: ``COMM_SELF`` in data-parallel
    training (each rank owns a whole copy of the mesh), ``COMM_WORLD`` otherwise."""
    from mpi4py import MPI

    return MPI.COMM_SELF if rank_and_world()[1] > 1 else MPI.COMM_WORLD


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over ranks (in place; a no-op without a process group)."""
    if rank_and_world()[1] > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def launch(nproc: int, module_args: list[str]) -> int:
    """Run ``python -m <module_args>`` on ``nproc`` local ranks with ``torchrun`` and
    return its exit status (the one-node form of a multi-node launch)."""
    import subprocess
    import sys

    if nproc < 1:
        raise ValueError(f"nproc: expected at least 1 process, got {nproc}")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", module_args[0], "--", *module_args[1:]]   # after "--", torchrun parses none of our flags
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(cmd, env=env).returncode
