"""Cost of the adjoint bridge on a Darcy residual loss, side by side in one run.

``J_b = ‖F(u_b; κ_b)‖²_{H⁻¹}`` with ``F(u; κ)(v) = ∫ κ ∇u·∇v − f v`` (BC rows
removed, Riesz map by the H¹ matrix factorised once) on a gmsh mesh with at
least 10k CG1 DOFs. Measures forward alone and forward + backward for batch
sizes 1, 4 and 16 (median of repeats, after a warm-up that compiles kernels),
and writes ``benchmarks/results/physics.json`` with ``grad_over_forward`` and
``per_sample_seconds``.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import torch  # noqa: E402

from spon.data import DarcyProblem  # noqa: E402
from spon.mesh import MeshSpec  # noqa: E402
from spon.physics import ResidualFunctional  # noqa: E402

HERE = Path(__file__).resolve().parents[1]   # benchmarks/


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--h", type=float, default=0.08)
    p.add_argument("--refinements", type=int, default=3)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--norm", default="H1")
    p.add_argument("--out", type=Path, default=HERE / "results" / "physics.json")
    a = p.parse_args(argv)

    prob = DarcyProblem(MeshSpec("unit_square", a.h, a.refinements))
    V, K = prob.output_space, prob.input_space
    print(f"{V.dim()} CG1 DOFs, {K.dim()} cells")

    def residual(u, v, kappa):
        return kappa * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - v * fd.dx

    R = ResidualFunctional(V, residual, bcs=prob.bcs, norm=a.norm, data_spaces=[K])
    kappa = prob.sample_inputs(16, seed=0)
    u = 0.01 * torch.randn(16, V.dim(), generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def forward(B):
        with torch.no_grad():
            R(u[:B], kappa[:B])

    def forward_backward(B):
        ub = u[:B].clone().requires_grad_(True)
        R(ub, kappa[:B]).sum().backward()

    timings = {}
    for B in (1, 4, 16):
        forward_backward(B)  # compile the batch-B kernels
        for name, fn in (("forward", forward), ("forward_backward", forward_backward)):
            ts = []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                fn(B)
                ts.append(time.perf_counter() - t0)
            timings[f"{name}_{B}"] = statistics.median(ts)
        print(B, timings[f"forward_{B}"], timings[f"forward_backward_{B}"])

    per_sample = {str(B): timings[f"forward_backward_{B}"] / B for B in (1, 4, 16)}
    out = {
        "grad_over_forward": timings["forward_backward_16"] / timings["forward_16"],
        "grad_over_forward_by_batch": {str(B): timings[f"forward_backward_{B}"] / timings[f"forward_{B}"]
                                       for B in (1, 4, 16)},
        "per_sample_seconds": per_sample,
        "per_sample_16_over_1": per_sample["16"] / per_sample["1"],
        "seconds": timings,
        "settings": {"dofs": V.dim(), "cells": K.dim(), "norm": a.norm, "repeats": a.repeats,
                     "mesh": prob.mesh_spec.to_dict(), "loss": "Darcy residual, H^-1 dual norm, BC rows removed"},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": sys.version.split()[0], "torch": torch.__version__},
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("grad_over_forward", "per_sample_seconds", "per_sample_16_over_1")}, indent=1))
    return out


if __name__ == "__main__":
    main()
