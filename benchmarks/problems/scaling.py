"""Training at scale: SPON-MG Darcy cost against mesh size, and 2 data-parallel ranks against 1.

* ``sizes``: SPON-MG (the Darcy benchmark's chosen processor: width 16, one
  smoothing step, coarse width 64) on a gmsh unit square with h = 0.1 refined
  2 to 5 times (about 2k to 120k output DOFs). Every size runs in its own
  process, so ``peak_rss_mb`` is that size's own peak. For each size:

  - ``setup_seconds``: mesh hierarchy (gmsh base mesh and ``MeshHierarchy``,
    also given alone as ``hierarchy_seconds``), spaces, transfer matrices, graphs
    and decoder (``build_spon``), with Firedrake's kernel cache warm;
  - ``seconds_per_epoch_per_sample``: the median of the timed epochs of the full
    ``Trainer`` step (encoder, processor, decoder, FE loss, AdamW), data streamed
    from HDF5, divided by the training samples;
  - ``cost_per_dof_ratio``: that cost per output DOF, relative to the smallest size.

  The data are real Darcy solutions (``spon.data.DarcyProblem``, LU), written
  once per size by ``generate_dataset``; their solve time is not part of setup.
* ``ddp``: ``torchrun`` with 1 and with 2 gloo ranks on one size, same global
  batch, one torch thread per rank, float64, one epoch from the same seed;
  ``ddp_two_rank_speedup`` is the ratio of the epoch times, measured side by side
  in one run, and ``weights_rel_diff`` compares the two runs' weights.

Writes ``benchmarks/results/scaling.json``::

    python -m benchmarks run scaling            # all (about 15 minutes on 2 cores)
    python -m benchmarks run scaling --quick    # 3 smallest sizes, fewer samples
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

HERE = Path(__file__).resolve().parents[1]   # benchmarks/
PROCESSOR = {"kind": "mg", "width": 16, "coarse_width": 64, "smooth": 1, "coarse_layers": 4}


def spec_for(mesh: dict, dtype: str = "float32") -> dict:
    return {"mesh": mesh, "input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1},
            "encoder": "l2", "decoder": {"kind": "dirichlet", "value": 0.0, "lifting": "boundary"},
            "dtype": dtype, "processor": PROCESSOR, "seed": 0}


def make_data(refinements: int, n: int, path: Path):
    from spon.data import DarcyProblem, generate_dataset
    from spon.mesh import MeshSpec

    if not path.exists():
        generate_dataset(DarcyProblem(MeshSpec("unit_square", 0.1, refinements)), n, path, seed=0, progress=False)
    return path


def size_worker(args):
    """One size in its own process: setup, then timed epochs; prints one JSON line."""
    import torch
    torch.set_num_threads(1)
    from spon.data import FEDataset
    from spon.mesh import MeshSpec, build_hierarchy
    from spon.models import build_spon
    from spon.training import Trainer

    ds = FEDataset(args.data)
    t0 = time.perf_counter()
    hierarchy = build_hierarchy(MeshSpec.from_dict(ds.meta["mesh"]))   # gmsh base mesh and MeshHierarchy
    t1 = time.perf_counter()
    model = build_spon(spec_for(ds.meta["mesh"]))
    setup = time.perf_counter() - t0
    tr = Trainer(model, epochs=args.epochs, batch_size=args.batch, lr=3e-3, seed=0, progress=False)
    hist = tr.fit(ds)
    sec = torch.tensor(hist["seconds"])
    per_epoch = torch.diff(sec, prepend=torch.zeros(1))[1:]     # the first epoch warms caches
    print(json.dumps({"dofs": model.decoder.V.dim(), "input_dofs": model.encoder.U.dim(),
                      "levels": ds.meta["mesh"]["refinements"] + 1,
                      "samples": len(ds), "batch": args.batch, "epochs_timed": len(per_epoch),
                      "setup_seconds": setup, "hierarchy_seconds": t1 - t0, "epoch_seconds": per_epoch.tolist(),
                      "cells": hierarchy[-1].num_cells(),
                      "seconds_per_epoch_per_sample": per_epoch.median().item() / len(ds),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "parameters": sum(p.numel() for p in model.parameters())}))


DDP_WORKER = r"""
import json, sys, time, torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[4])
from scaling import spec_for
from spon.data import FEDataset
from spon.models import build_spon
from spon.training import Trainer, fe_comm, init_from_env
data, out, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
rank, world, _ = init_from_env("cpu")
ds = FEDataset(data)
model = build_spon(spec_for(ds.meta["mesh"], "float64"), comm=fe_comm())
tr = Trainer(model, epochs=5, batch_size=batch, lr=3e-3, seed=0, progress=False, scheduler=None)
after_one = {}
steps = len(ds) // batch


def keep(epoch, step, loss):
    if epoch == 0 and step == steps - 1:
        after_one["w"] = torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()])


hist = tr.fit(ds, callback=keep)
if rank == 0:
    torch.save({"weights_epoch1": after_one["w"], "seconds": hist["seconds"], "world": world}, out)
"""


def ddp(data: Path, batch: int, tmp: Path) -> dict:
    import torch

    script = tmp / "ddp_worker.py"
    script.write_text(DDP_WORKER)
    runs = {1: [], 2: []}
    for i, n in enumerate((1, 2, 2, 1)):      # interleaved, so drifts of this noisy machine hit both alike
        out = tmp / f"ddp{i}.pt"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}", str(script),
               "--", str(data), str(out), str(batch), str(Path(__file__).resolve().parent)]
        subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        runs[n].append(torch.load(out))
    a, b = runs[1][0]["weights_epoch1"], runs[2][0]["weights_epoch1"]
    # the first epoch warms caches (and gloo); the other four are timed
    t = {n: [r["seconds"][-1] - r["seconds"][0] for r in runs[n]] for n in runs}
    mean = {n: sum(v) / len(v) for n, v in t.items()}
    return {"ranks": [1, 2], "global_batch": batch, "torch_threads_per_rank": 1, "backend": "gloo", "dtype": "float64",
            "timed_epochs": 4,
            "order": [1, 2, 2, 1], "seconds_for_timed_epochs": {str(n): t[n] for n in t},
            "ddp_two_rank_speedup": mean[1] / mean[2],
            "weights_rel_diff_after_one_epoch": ((a - b).norm() / a.norm()).item()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(HERE / "results" / "scaling.json"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--parts", default="sizes,ddp", help="sizes, ddp or both (a part not run keeps its "
                   "entry in --out)")
    p.add_argument("--refinements", default=None, help="refinements of the sizes, e.g. 2,3,4 (default 2,3,4,5; "
                   "2,3,4 with --quick)")
    p.add_argument("--samples", type=int, default=None, help="samples per size (default 32; 16 with --quick)")
    args = p.parse_args(argv)
    if args.worker:
        return size_worker(args)
    from spon.atomic import atomic_write_json

    refinements = (tuple(int(r) for r in args.refinements.split(",")) if args.refinements
                   else (2, 3, 4) if args.quick else (2, 3, 4, 5))
    n = args.samples or (16 if args.quick else 32)
    cache = Path(tempfile.gettempdir()) / "spon_scaling_data"
    cache.mkdir(exist_ok=True)
    parts = set(args.parts.split(","))
    old = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    res = {"settings": {"processor": PROCESSOR, "mesh": "unit_square h=0.1", "refinements": list(refinements),
                        "samples": n, "batch": args.batch, "epochs": args.epochs, "quick": args.quick,
                        "dtype": "float32", "torch_threads": 1},
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "sizes": []}
    for r in refinements if "sizes" in parts else ():
        data = make_data(r, n, cache / f"darcy_r{r}_n{n}.h5")
        out = subprocess.run([sys.executable, __file__, "--worker", "--data", str(data), "--epochs", str(args.epochs),
                              "--batch", str(args.batch)], check=True, capture_output=True, text=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        res["sizes"].append(row)
        print(f"{row['dofs']:>7} DOFs: setup {row['setup_seconds']:.1f} s, "
              f"{row['seconds_per_epoch_per_sample'] * 1e3:.1f} ms/sample/epoch, peak {row['peak_rss_mb']:.0f} MB",
              flush=True)
    if "sizes" not in parts:
        res["sizes"] = old["sizes"]
    c0 = res["sizes"][0]["seconds_per_epoch_per_sample"] / res["sizes"][0]["dofs"]
    for row in res["sizes"]:
        row["cost_per_dof_ratio"] = row["seconds_per_epoch_per_sample"] / row["dofs"] / c0
    big = res["sizes"][-1]
    res["summary"] = {"largest_dofs": big["dofs"], "cost_per_dof_ratio_largest": big["cost_per_dof_ratio"],
                      "setup_seconds_largest": big["setup_seconds"],
                      "targets": {"cost_per_dof_ratio_largest": "<= 1.5", "setup_seconds_at_100k": "< 60"}}
    if "ddp" not in parts:
        res["ddp"] = old.get("ddp")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            r = 3
            res["ddp"] = ddp(make_data(r, n, cache / f"darcy_r{r}_n{n}.h5"), 16, Path(tmp))
            res["ddp"]["dofs"] = next(s["dofs"] for s in res["sizes"] if s["levels"] == r + 1)
            res["ddp"]["samples"] = n
        print(f"ddp: 2 ranks {res['ddp']['ddp_two_rank_speedup']:.2f}x, weights rel diff "
              f"{res['ddp']['weights_rel_diff_after_one_epoch']:.1e}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, res)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
