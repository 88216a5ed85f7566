"""SPON-MG on Darcy flow: the flagship demo.

The FNO Darcy recipe on an unstructured gmsh mesh of the unit square: κ is a
thresholded Matérn field (12 where ψ ≥ 0, 3 elsewhere), f = 1, u = 0 on ∂Ω.
Firedrake generates the data on the finest level of a 3-level MeshHierarchy;
the model is ``S = D ∘ P_MG ∘ E`` with

* ``E``: L² projection of κ ∈ DG0 onto CG1,
* ``P_MG``: a learned V-cycle (message passing on each level's DOF graph,
  Firedrake's transfer matrices between levels, a global coarse layer),
* ``D``: the Dirichlet decoder, so u = 0 on ∂Ω holds exactly.

Prints the test error and the boundary error; writes PNG figures of κ, the
truth, the prediction and the error, a .pvd file of the same fields, and the
trained checkpoint.

Run: ``python demos/darcy_mg.py`` (about 5 minutes on 2 cores).
"""
import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")  # argv is for argparse, not PETSc

import firedrake as fd  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import tripcolor, triplot  # noqa: E402

from spon.data import DarcyProblem  # noqa: E402
from spon.fem import FENorm, to_functions  # noqa: E402
from spon.mesh import MeshSpec, build_hierarchy  # noqa: E402
from spon.models import build_spon, load_checkpoint  # noqa: E402
from spon.training import Trainer  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--h", type=float, default=0.1, help="gmsh base mesh size")
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--n-test", type=int, default=40)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--width", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/darcy_mg"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(os.cpu_count())

    ms = MeshSpec("unit_square", args.h, 2)
    problem = DarcyProblem(ms)
    V, K = problem.output_space, problem.input_space
    print(f"mesh hierarchy: {len(build_hierarchy(ms))} levels from gmsh h={args.h}; "
          f"finest: {problem.mesh.num_cells()} cells, {V.dim()} CG1 DOFs")
    t0 = time.perf_counter()
    X = problem.sample_inputs(args.n_train + args.n_test, seed=args.seed)
    Y = problem.solve(X)
    print(f"data: {len(X)} Darcy solves in {time.perf_counter() - t0:.1f} s")
    Xtr, Ytr, Xte, Yte = X[:args.n_train], Y[:args.n_train], X[args.n_train:], Y[args.n_train:]

    spec = {"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0},
            "output": {"family": "CG", "degree": 1}, "encoder": "l2",
            "decoder": {"kind": "dirichlet", "value": 0.0},
            "processor": {"kind": "mg", "width": args.width, "coarse_width": 64},
            "dtype": "float32"}
    model = build_spon(spec)
    trainer = Trainer(model, epochs=args.epochs, batch_size=16, lr=3e-3, seed=args.seed,
                      checkpoint_dir=args.out, checkpoint_every=10, desc="SPON-MG")
    t0 = time.perf_counter()
    trainer.fit((Xtr, Ytr))
    t_train = time.perf_counter() - t0

    model = load_checkpoint(args.out / "last.pt")  # as a user would, from disk
    with torch.no_grad():
        pred = model(Xte.float()).double()
    rel = FENorm(V).relative_error(pred, Yte)
    bdofs = model.decoder.boundary_dofs
    bnd = pred[:, bdofs].abs().max().item()
    n_params = sum(q.numel() for q in model.parameters())
    print(f"training: {args.epochs} epochs in {t_train:.0f} s, {n_params} parameters")
    print(f"test relative L2 error: mean {rel.mean():.3e}, median {rel.median():.3e}, max {rel.max():.3e}")
    print(f"max boundary DOF error: {bnd:.1e} (the BC u = 0 holds by construction)")

    i = int(rel.argsort()[len(rel) // 2])  # the median sample
    kappa = to_functions(Xte[i:i + 1], K)[0]
    kappa.rename("kappa")
    truth, predf = to_functions(Yte[i:i + 1], V)[0], to_functions(pred[i:i + 1], V)[0]
    truth.rename("truth")
    predf.rename("prediction")
    err = fd.Function(V, name="error").assign(predf - truth)
    vmax = max(truth.dat.data_ro.max(), predf.dat.data_ro.max())
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    for ax, f, title, kw in ((axes[0], kappa, "κ (input)", {"cmap": "cividis"}),
                             (axes[1], truth, "Firedrake solution u", {"vmin": 0, "vmax": vmax}),
                             (axes[2], predf, "SPON-MG prediction", {"vmin": 0, "vmax": vmax}),
                             (axes[3], err, "prediction − truth", {"cmap": "RdBu_r"})):
        fig.colorbar(tripcolor(f, axes=ax, **kw), ax=ax)
        ax.set_title(title)
        ax.set_aspect("equal")
        ax.set_axis_off()
    fig.suptitle(f"median test sample: relative L2 error {rel[i]:.2e}")
    fig.savefig(args.out / "darcy_mg.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, m in zip(axes, build_hierarchy(ms)):
        triplot(m, axes=ax)
        ax.set_title(f"level: {m.num_cells()} cells")
        ax.set_aspect("equal")
        ax.set_axis_off()
    fig.savefig(args.out / "darcy_mg_hierarchy.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    fd.VTKFile(str(args.out / "darcy_mg.pvd")).write(kappa, truth, predf, err)
    print(f"wrote {args.out}/darcy_mg.png, darcy_mg_hierarchy.png, darcy_mg.pvd, last.pt")
    return rel.mean().item(), bnd


if __name__ == "__main__":
    main()
