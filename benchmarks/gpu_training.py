"""Training speed of SPON-MG with the full ``Trainer`` step, on CPU and GPU, side by side.

Two steps, because a GPU machine may have PyTorch but no Firedrake:

    python benchmarks/gpu_training.py export          # here: Firedrake builds data, model and loss
    python benchmarks/gpu_training.py run --devices cpu,cuda   # anywhere with torch

``export`` writes ``.gpu/bundle.pt`` (git-ignored): the whole SPON-MG model
(encoder, processor, decoder: their Firedrake-assembled matrices are torch
buffers; the Firedrake objects they were built from are left out), the FE L²
loss and metric, and Darcy inputs and solutions. ``run`` trains it with
:class:`spon.training.Trainer` (DataLoader, encoder, processor, exact-BC
decoder, FE loss, AdamW, one-cycle schedule) for a few epochs on each device
and batch size, and writes ``benchmarks/results/gpu_training.json`` (or
``$OUT/gpu_training.json``) with seconds per epoch. The bundle is written and
read by :mod:`spon.portable`: without Firedrake, ``run`` stands stubs in for the
FE stack's modules (``--torch-only`` does so even where Firedrake is installed,
to check that path).

It also times the host round trip of the physics bridge (a batch of network
outputs copied to float64 host memory and a gradient of the same size copied
back), which is what a CUDA tensor costs on its way through Firedrake.
"""
import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUNDLE = HERE.parent / ".gpu" / "bundle.pt"


def export(args):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from spon.data import DarcyProblem
    from spon.fem import FELoss, FENorm
    from spon.mesh import MeshSpec
    from spon.models import build_spon
    from spon.portable import save_portable

    ms = MeshSpec("unit_square", args.h, 2)
    prob = DarcyProblem(ms)
    x = prob.sample_inputs(args.n, seed=0)
    y = prob.solve(x)
    spec = {"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0},
            "output": {"family": "CG", "degree": 1}, "encoder": "l2",
            "decoder": {"kind": "dirichlet", "value": 0.0, "lifting": "boundary"},
            "processor": {"kind": "mg", "width": 16, "coarse_width": 64, "smooth": 1, "coarse_layers": 4},
            "dtype": "float32"}
    model = build_spon(spec)
    V = prob.output_space
    BUNDLE.parent.mkdir(exist_ok=True)
    save_portable(BUNDLE, model=model, loss=FELoss(V, "L2", relative=True), metric=FENorm(V, "L2"),
                  x=x.float(), y=y.float(), spec=spec, dofs=V.dim())
    print(f"wrote {BUNDLE} ({BUNDLE.stat().st_size / 1e6:.1f} MB)")


def run(args):
    sys.path.insert(0, str(HERE.parent))
    import torch

    from spon.portable import load_portable, stub_fe_stack
    if args.torch_only:
        stub_fe_stack()
    b = load_portable(BUNDLE)     # stubs the FE stack if Firedrake is missing
    from spon.training import Trainer

    out = {"settings": vars(args) | {"dofs": b["dofs"], "samples": len(b["x"]), "spec": b["spec"]},
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
           "step": "spon.training.Trainer.fit: DataLoader, encoder, MG processor, Dirichlet decoder, FE L2 loss, "
                   "AdamW + one-cycle",
           "seconds_per_epoch": {}, "final_test_rel": {}, "physics_bridge_round_trip": {}}
    n_test = len(b["x"]) // 8
    train = (b["x"][n_test:], b["y"][n_test:])
    test = (b["x"][:n_test], b["y"][:n_test])
    for dev in args.devices.split(","):
        if dev.startswith("cuda") and not torch.cuda.is_available():
            print(f"{dev}: torch sees no CUDA device, skipped")
            continue
        for batch in (int(s) for s in args.batches.split(",")):
            model = copy.deepcopy(b["model"])
            tr = Trainer(model, epochs=args.epochs + 1, batch_size=batch, lr=3e-3, seed=0, device=dev,
                         loss=copy.deepcopy(b["loss"]), metric=copy.deepcopy(b["metric"]), progress=False)
            hist = tr.fit(train, test)
            sec = hist["seconds"]
            key = f"{dev}_batch{batch}"
            # the first epoch warms up (allocator, kernels); test evaluation is part of each epoch
            out["seconds_per_epoch"][key] = (sec[-1] - sec[0]) / args.epochs
            out["final_test_rel"][key] = hist["test_rel"][-1]
            out["physics_bridge_round_trip"][key] = _round_trip(torch, dev, batch, b["dofs"])
            print(key, out["seconds_per_epoch"][key], flush=True)
    dest = Path(os.environ.get("OUT", HERE / "results")) / args.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2))
    print(f"wrote {dest}")


def _round_trip(torch, dev, batch, dofs, repeats=20):
    """Seconds per batch for what the physics bridge adds on ``dev``: outputs to float64
    host memory (the FE solves read numpy), then a gradient of that size back to ``dev``."""
    u = torch.randn(batch, dofs, device=dev)
    times = []
    for _ in range(repeats + 1):
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        host = u.detach().cpu().double().numpy()
        g = torch.as_tensor(host).to(device=dev, dtype=u.dtype)
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    del g
    return {"seconds_per_batch": sorted(times[1:])[repeats // 2], "bytes_each_way": batch * dofs * 8}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--h", type=float, default=0.1)
    e.add_argument("--n", type=int, default=256)
    r = sub.add_parser("run")
    r.add_argument("--devices", default="cpu")
    r.add_argument("--batches", default="16,64")
    r.add_argument("--epochs", type=int, default=3)
    r.add_argument("--name", default="gpu_training.json")
    r.add_argument("--torch-only", action="store_true", help="use the FE-stack stubs even if Firedrake is here")
    args = p.parse_args()
    export(args) if args.cmd == "export" else run(args)


if __name__ == "__main__":
    main()
