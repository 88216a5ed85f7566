"""Mesh transfer: a trained SPON-MG on finer and on unrelated meshes, without retraining.

SPON-MG is trained once on the Darcy problem (the square of
``benchmarks/problems/darcy.py``) and evaluated, on fresh test samples solved on each
mesh, on: the training mesh, the once- and twice-refined meshes, and an
unrelated gmsh mesh of the same square. Two ways to apply it elsewhere:

* ``on_spaces`` (:class:`spon.models.TransferredSPON`): the operator stays on
  its training mesh; the input comes over by the model's encoder built from the
  new space (supermesh L² projection), the prediction goes back by
  interpolation with the Dirichlet data of the new mesh put back exactly;
* ``with_mesh``: the processor rebuilt on the new mesh's hierarchy (same
  number of levels, so the coarse level gets finer too), weights copied.

FNO (trained on the training mesh's data on its grid, its own recipe) is
evaluated on the same meshes twice: sampled on its training grid (and
interpolated to the new mesh), and at a grid refined like the mesh
("zero-shot super-resolution", its per-point normalisers upsampled
bilinearly). Writes ``benchmarks/results/transfer.json``.

    python -m benchmarks run transfer          # about 10 min on 2 cores
"""
import argparse
import time
from pathlib import Path

import torch

from spon.atomic import atomic_write_json
from spon.data import DarcyProblem
from spon.fem import FENorm, GridTransfer
from spon.mesh import MeshSpec
from spon.models import with_mesh

from ..baselines import fno as fno_baseline
from ..harness import RESULTS, machine, set_threads
from . import darcy


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--n-test", type=int, default=50)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--unrelated-h", type=float, default=0.045, help="gmsh size of the unrelated mesh (no refinement)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: what OMP_NUM_THREADS gives torch); recorded in the JSON")
    p.add_argument("--out", type=Path, default=RESULTS / "transfer.json")
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    t_start = time.perf_counter()
    dom = darcy.DOMAINS["square"]
    train_ms = MeshSpec(dom["mesh"], dom["h"], 2)
    ls = dom["length_scale"]

    prob = DarcyProblem(train_ms, length_scale=ls)
    X = prob.sample_inputs(a.n_train, seed=a.seed)
    Y = prob.solve(X)
    hp = darcy.DEFAULT["spon_mg"]
    mg = darcy.make_model("spon_mg", train_ms, hp, a.seed)
    t0 = time.perf_counter()
    mg.fit(X, Y, a.epochs)
    t_mg = time.perf_counter() - t0
    grid, grid_u = GridTransfer(prob.input_space, prob.output_space, n=dom["grid"]), GridTransfer(
        prob.output_space, n=dom["grid"])
    fhp = darcy.DEFAULT["fno"]
    fno = fno_baseline.GridFNO(grid, grid_out=grid_u, seed=a.seed, **fhp)
    t0 = time.perf_counter()
    fno.fit(X, Y, a.epochs)
    t_fno = time.perf_counter() - t0

    meshes = {"train": (train_ms, 1), "refined_1": (train_ms.refined(1), 2), "refined_2": (train_ms.refined(2), 4),
              "unrelated": (MeshSpec(dom["mesh"], a.unrelated_h, 0), 2)}
    rows = {}
    for name, (ms, grid_factor) in meshes.items():
        pr = DarcyProblem(ms, length_scale=ls, solver="lu")
        Xt = pr.sample_inputs(a.n_test, seed=1000 + a.seed)
        Yt = pr.solve(Xt)
        V, bnodes = pr.output_space, torch.as_tensor(pr.bcs[0].nodes)
        norm = FENorm(V)

        def score(pred):
            return {"rel_l2": norm.relative_error(pred, Yt).mean().item(),
                    "max_boundary_error": (pred[:, bnodes] - Yt[:, bnodes]).abs().max().item()}

        row = {"mesh": ms.to_dict(), "dofs": V.dim()}
        with torch.no_grad():
            on = mg.model.on_spaces(pr.input_space, V, pr.bcs)
            row["spon_mg_on_spaces"] = score(torch.cat([on(x.float()) for x in Xt.split(16)]).double())
            if name != "unrelated":
                moved = mg.model if name == "train" else with_mesh(mg.model, ms.to_dict())
                row["spon_mg_with_mesh"] = score(torch.cat([moved(x.float()) for x in Xt.split(16)]).double())
        g, gu = GridTransfer(pr.input_space, V, n=dom["grid"]), GridTransfer(V, n=dom["grid"])
        row["fno_training_grid"] = score(fno.on_grid(g, gu).predict(Xt))
        n_fine = (dom["grid"] - 1) * grid_factor + 1
        g, gu = GridTransfer(pr.input_space, V, n=n_fine), GridTransfer(V, n=n_fine)
        row["fno_super_resolution"] = score(fno.on_grid(g, gu).predict(Xt)) | {"grid": n_fine}
        rows[name] = row
        print(name, row, flush=True)

    base = rows["train"]["spon_mg_on_spaces"]["rel_l2"]
    out = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
           | {"train_mesh": train_ms.to_dict(), "length_scale": ls, "spon_mg": hp, "fno": fhp,
              "train_seconds": {"spon_mg": t_mg, "fno": t_fno},
              "metric": "relative FE L2 error on fresh test samples solved on each mesh"},
           "machine": machine(threads),
           "meshes": rows,
           "refined_1_over_train": rows["refined_1"]["spon_mg_on_spaces"]["rel_l2"] / base,
           "refined_2_over_train": rows["refined_2"]["spon_mg_on_spaces"]["rel_l2"] / base,
           "unrelated_over_train": rows["unrelated"]["spon_mg_on_spaces"]["rel_l2"] / base,
           "ratios_basis": "SPON-MG through on_spaces (operator on its training mesh, input by supermesh L2 "
                           "projection, output interpolated with the new mesh's BCs), error over its error on "
                           "the training mesh",
           "with_mesh_ratios": {k: rows[k]["spon_mg_with_mesh"]["rel_l2"] / rows["train"]["spon_mg_with_mesh"]["rel_l2"]
                                for k in ("refined_1", "refined_2")},
           "fno_super_resolution_ratios": {
               k: rows[k]["fno_super_resolution"]["rel_l2"] / rows["train"]["fno_training_grid"]["rel_l2"]
               for k in ("refined_1", "refined_2", "unrelated")},
           "total_seconds": time.perf_counter() - t_start}
    atomic_write_json(a.out, out)
    print({k: out[k] for k in ("refined_1_over_train", "refined_2_over_train", "unrelated_over_train",
                               "with_mesh_ratios", "fno_super_resolution_ratios")})
    print(f"wrote {a.out} ({out['total_seconds']:.0f} s)")
    return out


if __name__ == "__main__":
    main()
