"""Training speed of SPON-MG on CPU and GPU, same model and data, side by side.

Two steps, because the GPU machine has PyTorch but no Firedrake:

    python benchmarks/gpu_training.py export          # here: Firedrake builds data + model
    python benchmarks/gpu_training.py run --devices cpu,cuda   # anywhere with torch

``export`` writes ``.gpu/bundle.pt`` (git-ignored): the MG processor as a pickled
``nn.Module`` (its graphs and Firedrake-assembled transfer matrices are plain
torch buffers), encoded Darcy inputs, targets, the mass matrix and the boundary
mask. ``run`` trains the processor with the exact-BC decoder and the FE L² loss
for a few epochs on each device and writes ``benchmarks/results/gpu_training.json``
(or ``$OUT/gpu_training.json``) with seconds per epoch.
"""
import argparse
import json
import os
import platform
import sys
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUNDLE = HERE.parent / ".gpu" / "bundle.pt"


def export(args):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from spon.data import DarcyProblem
    from spon.fem import mass_matrix
    from spon.mesh import MeshSpec
    from spon.models import build_spon

    ms = MeshSpec("unit_square", args.h, 2)
    prob = DarcyProblem(ms)
    x = prob.sample_inputs(args.n, seed=0)
    y = prob.solve(x)
    spec = {"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0},
            "output": {"family": "CG", "degree": 1}, "encoder": "l2",
            "decoder": {"kind": "dirichlet", "value": 0.0},
            "processor": {"kind": "mg", "width": 24, "coarse_width": 64}, "dtype": "float32"}
    model = build_spon(spec)
    model.fit_scales(x.float(), y.float())
    with torch.no_grad():
        z = model.encoder(x.float()) / model.input_scale
    BUNDLE.parent.mkdir(exist_ok=True)
    torch.save({"processor": model.processor, "z": z, "y": y.float(), "M": mass_matrix(prob.output_space).float(),
                "mask": model.decoder.mask, "output_scale": model.output_scale.item(), "spec": spec,
                "dofs": prob.output_space.dim()}, BUNDLE)
    print(f"wrote {BUNDLE} ({BUNDLE.stat().st_size / 1e6:.1f} MB)")


def run(args):
    try:
        import firedrake  # noqa: F401
    except ImportError:  # torch-only machine: spon's modules need firedrake only to build, not to run
        for name in ("firedrake", "ufl"):
            sys.modules[name] = types.ModuleType(name)
    sys.path.insert(0, str(HERE.parent))
    import torch

    b = torch.load(BUNDLE, weights_only=False)
    out = {"settings": vars(args) | {"dofs": b["dofs"], "samples": len(b["z"]), "spec": b["spec"]},
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
           "seconds_per_epoch": {}}
    for dev in args.devices.split(","):
        for batch in (int(s) for s in args.batches.split(",")):
            if dev == "cuda" and not torch.cuda.is_available():
                continue
            torch.manual_seed(0)
            P = __import__("copy").deepcopy(b["processor"]).to(dev)
            z, y, M, mask = b["z"].to(dev), b["y"].to(dev), b["M"].to(dev), b["mask"].to(dev)
            opt = torch.optim.AdamW(P.parameters(), lr=1e-3)

            def sq(u):
                return (u * torch.sparse.mm(M, u.mT).mT).sum(1)

            times = []
            for epoch in range(args.epochs + 1):  # the first epoch warms up (allocator, kernels)
                if dev == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                for idx in torch.randperm(len(z), device=dev).split(batch):
                    opt.zero_grad(set_to_none=True)
                    u = torch.where(mask, 0.0, P(z[idx]) * b["output_scale"])
                    loss = (sq(u - y[idx]) / sq(y[idx])).mean()
                    loss.backward()
                    opt.step()
                if dev == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            key = f"{dev}_batch{batch}"
            out["seconds_per_epoch"][key] = sum(times[1:]) / args.epochs
            out.setdefault("final_loss", {})[key] = loss.item()
            print(key, out["seconds_per_epoch"][key], flush=True)
    dest = Path(os.environ.get("OUT", HERE / "results")) / args.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2))
    print(f"wrote {dest}")


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
    args = p.parse_args()
    export(args) if args.cmd == "export" else run(args)


if __name__ == "__main__":
    main()
