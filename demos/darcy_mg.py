r"""
SPON-MG on Darcy flow (and the multigrid hierarchy)
===================================================

The flagship demo. The FNO Darcy benchmark, on an unstructured gmsh mesh of
the unit square:

.. math::

    -\nabla\cdot(\kappa \nabla u) = 1 \ \text{in } \Omega, \qquad u = 0 \ \text{on } \partial\Omega,

where :math:`\kappa` is a thresholded Matérn random field (12 where
:math:`\psi \ge 0`, 3 elsewhere). We learn :math:`\kappa \mapsto u` with

.. math::

    S = D \circ P_{\mathrm{MG}} \circ E,

* :math:`E`: the :math:`L^2` projection of :math:`\kappa \in \mathrm{DG}_0`
  onto :math:`\mathrm{CG}_1`, :math:`M^{-1} b`;
* :math:`P_{\mathrm{MG}}`: a learned V-cycle on Firedrake's
  :func:`~firedrake.mg.mesh.MeshHierarchy`: message passing on each level's
  DOF graph, Firedrake's prolongation :math:`P` and restriction between levels,
  a wider processor with a global layer on the coarsest level;
* :math:`D`: the Dirichlet decoder, so :math:`u = 0` on :math:`\partial\Omega`
  holds exactly.

Run as a script: ``python demos/darcy_mg.py`` (about 5 minutes on 2 cores).
"""

# %%
# Settings
# --------
# The command line sets the sizes; the defaults are the full run, and the docs
# build uses small ones (``doc/gallery_settings.py``).
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

p = argparse.ArgumentParser(description="SPON-MG on Darcy flow")
p.add_argument("--h", type=float, default=0.1, help="gmsh base mesh size")
p.add_argument("--n-train", type=int, default=200)
p.add_argument("--n-test", type=int, default=40)
p.add_argument("--epochs", type=int, default=60)
p.add_argument("--width", type=int, default=24)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--out", type=Path, default=Path("results/darcy_mg"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# The hierarchy
# -------------
# A :class:`~spon.mesh.MeshSpec` names a geometry, a gmsh size and a number of
# uniform refinements. The data live on the finest level; the coarser levels
# are where the V-cycle carries information across the domain.
ms = MeshSpec("unit_square", args.h, 2)
problem = DarcyProblem(ms)
V, K = problem.output_space, problem.input_space
hierarchy = build_hierarchy(ms)
print(f"mesh hierarchy: {len(hierarchy)} levels from gmsh h={args.h}; "
      f"finest: {problem.mesh.num_cells()} cells, {V.dim()} CG1 DOFs")
fig, axes = plt.subplots(1, len(hierarchy), figsize=(4.5 * len(hierarchy), 4.3))
for ax, m in zip(axes, hierarchy):
    triplot(m, axes=ax)
    ax.set_title(f"level: {m.num_cells()} cells")
    ax.set_aspect("equal")
    ax.set_axis_off()
fig.savefig(args.out / "darcy_mg_hierarchy.png", dpi=100, bbox_inches="tight")

# %%
# Data from Firedrake
# -------------------
# One Darcy solve per sample of :math:`\kappa`.
t0 = time.perf_counter()
X = problem.sample_inputs(args.n_train + args.n_test, seed=args.seed)
Y = problem.solve(X)
print(f"data: {len(X)} Darcy solves in {time.perf_counter() - t0:.1f} s")
Xtr, Ytr, Xte, Yte = X[:args.n_train], Y[:args.n_train], X[args.n_train:], Y[args.n_train:]

# %%
# The model from a spec
# ---------------------
# A spec is a plain dictionary. It is stored inside every checkpoint, so a
# model can be rebuilt from its file alone.
spec = {"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0},
        "output": {"family": "CG", "degree": 1}, "encoder": "l2",
        "decoder": {"kind": "dirichlet", "value": 0.0},
        "processor": {"kind": "mg", "width": args.width, "coarse_width": 64},
        "dtype": "float32"}
model = build_spon(spec)
print(f"{sum(q.numel() for q in model.parameters())} parameters")

# %%
# Training
# --------
# :class:`~spon.training.Trainer` minimises the relative FE :math:`L^2` error
# with Adam and writes crash-safe checkpoints.
trainer = Trainer(model, epochs=args.epochs, batch_size=16, lr=3e-3, seed=args.seed,
                  checkpoint_dir=args.out, checkpoint_every=10, desc="SPON-MG")
t0 = time.perf_counter()
trainer.fit((Xtr, Ytr))
print(f"training: {args.epochs} epochs in {time.perf_counter() - t0:.0f} s")

# %%
# Evaluate the model as a user would: from disk
# ---------------------------------------------
model = load_checkpoint(args.out / "last.pt")
with torch.no_grad():
    pred = model(Xte.float()).double()
rel = FENorm(V).relative_error(pred, Yte)
bnd = pred[:, model.decoder.boundary_dofs].abs().max().item()
print(f"test relative L2 error: mean {rel.mean():.3e}, median {rel.median():.3e}, max {rel.max():.3e}")
print(f"max boundary DOF error: {bnd:.1e} (the BC u = 0 holds by construction)")

# %%
# The median test sample
# ----------------------
i = int(rel.argsort()[len(rel) // 2])
kappa = to_functions(Xte[i:i + 1], K)[0]
kappa.rename("kappa")
truth, predf = to_functions(Yte[i:i + 1], V)[0], to_functions(pred[i:i + 1], V)[0]
truth.rename("truth")
predf.rename("prediction")
err = fd.Function(V, name="error").assign(predf - truth)
vmax = max(truth.dat.data_ro.max(), predf.dat.data_ro.max())
fig, axes = plt.subplots(2, 2, figsize=(10, 8.5))
for ax, f, title, kw in ((axes[0, 0], kappa, "κ (input)", {"cmap": "cividis"}),
                         (axes[0, 1], truth, "Firedrake solution u", {"vmin": 0, "vmax": vmax}),
                         (axes[1, 0], predf, "SPON-MG prediction", {"vmin": 0, "vmax": vmax}),
                         (axes[1, 1], err, "prediction − truth", {"cmap": "RdBu_r"})):
    fig.colorbar(tripcolor(f, axes=ax, **kw), ax=ax)
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.set_axis_off()
fig.suptitle(f"median test sample: relative L2 error {rel[i]:.2e}")
fig.savefig(args.out / "darcy_mg.png", dpi=110, bbox_inches="tight")
fd.VTKFile(str(args.out / "darcy_mg.pvd")).write(kappa, truth, predf, err)
print("wrote darcy_mg.png, darcy_mg_hierarchy.png, darcy_mg.pvd and last.pt to the output folder")
rel_mean = rel.mean().item()
