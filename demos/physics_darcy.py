r"""
Physics-informed training
=========================

A Firedrake residual is a loss like any other. For the Darcy problem of the
:doc:`darcy_mg` tutorial, the network output :math:`u` and the input
:math:`\kappa` enter the discrete residual

.. math::

    F(u; \kappa)(v) = \int_\Omega \kappa \nabla u\cdot\nabla v\,dx - \int_\Omega f v\,dx
    \qquad \text{for all } v \in V_0,

and the physics loss of a sample is its dual norm, relative to that of the
zero guess:

.. math::

    L_{\text{phys}}(u; \kappa) = \frac{\|F(u; \kappa)\|^2_{V_0'}}{\|F(0; \kappa)\|^2_{V_0'}} .

:class:`spon.physics.ResidualFunctional` evaluates it for a whole batch (one
assembly, one multi-right-hand-side solve for the Riesz map) and gives torch
its gradient by UFL differentiation, so no solution labels are needed. The
Dirichlet decoder holds :math:`u = 0` on :math:`\partial\Omega`, so the BC rows
are not part of the loss.

We compare, on the same test set:

1. the model trained on labels only, and on the physics loss only;
2. a hybrid curve: test error against the number of labelled samples, with the
   physics loss on every input and without it.

Run as a script: ``python demos/physics_darcy.py`` (a few minutes on 2 cores).
"""

# %%
# Settings
# --------
# The command line sets the sizes; the defaults are the full run, and the docs
# build uses small ones (``doc/gallery_settings.py``).
import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import tripcolor  # noqa: E402

from spon.data import DarcyProblem  # noqa: E402
from spon.fem import FENorm, to_functions  # noqa: E402
from spon.mesh import MeshSpec  # noqa: E402
from spon.models import build_spon  # noqa: E402
from spon.physics import ResidualFunctional  # noqa: E402
from spon.training import Trainer  # noqa: E402

p = argparse.ArgumentParser(description="Physics-informed SPON-MG on Darcy")
p.add_argument("--h", type=float, default=0.15)
p.add_argument("--n-train", type=int, default=100)
p.add_argument("--n-test", type=int, default=30)
p.add_argument("--epochs", type=int, default=30)
p.add_argument("--labelled", default="5,20", help="label counts for the hybrid curve")
p.add_argument("--norm", default="L2_preconditioned", help="residual norm of the physics loss")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--out", type=Path, default=Path("results/physics_darcy"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# Problem and data
# ----------------
# The labels are used only by the data-driven runs and to score every run.
ms = MeshSpec("unit_square", args.h, 2)
prob = DarcyProblem(ms)
X = prob.sample_inputs(args.n_train + args.n_test, seed=args.seed)
Y = prob.solve(X)
Xtr, Ytr, Xte, Yte = X[:args.n_train], Y[:args.n_train], X[args.n_train:], Y[args.n_train:]
V, K = prob.output_space, prob.input_space


# %%
# The physics loss
# ----------------
# The residual is written in UFL, exactly as for a Firedrake solve.
# ``data_spaces`` says that the second argument, :math:`\kappa`, lives in
# :math:`\mathrm{DG}_0`.
def residual(u, v, kappa):
    return kappa * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - prob.params["forcing"] * v * fd.dx


R = ResidualFunctional(V, residual, bcs=prob.bcs, norm=args.norm, data_spaces=[K])


def physics(pred, kappa):
    u, k = pred.double(), kappa.double()
    with torch.no_grad():
        J0 = R(torch.zeros_like(u), k)
    return (R(u, k) / J0).to(pred.dtype)


# %%
# Without labels the output has no scale to learn from at the start; we give
# the trainer the size of the solution for the mean conductivity, from one solve.
kbar = 0.5 * (prob.params["high"] + prob.params["low"])
u_, v_, w_ = fd.TrialFunction(V), fd.TestFunction(V), fd.Function(V)
fd.solve(kbar * fd.inner(fd.grad(u_), fd.grad(v_)) * fd.dx == prob.params["forcing"] * v_ * fd.dx, w_,
         bcs=prob.bcs)
scale = float(w_.dat.data_ro.std())

# %%
# One training run
# ----------------
# ``labelled`` marks the samples whose labels the data loss may use; the
# physics loss, when given, sees every input.
l2 = FENorm(V)
spec = {"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1},
        "encoder": "l2", "decoder": {"kind": "dirichlet"}, "dtype": "float32", "seed": args.seed,
        "processor": {"kind": "mg", "width": 24, "coarse_width": 48}}


def run(n_lab, with_physics, desc):
    model = build_spon(spec)
    lab = torch.zeros(args.n_train, dtype=torch.bool)
    lab[:n_lab] = True
    tr = Trainer(model, epochs=args.epochs, batch_size=16, lr=3e-3, seed=args.seed, desc=desc)
    tr.fit((Xtr, Ytr), labelled=lab, physics=physics if with_physics else None,
           output_scale=None if n_lab else scale)
    with torch.no_grad():
        pred = model(Xte.float()).double()
    return l2.relative_error(pred, Yte).mean().item(), pred


# %%
# Data only against physics only
# ------------------------------
results = {}
results["data_all"], pred_data = run(args.n_train, False, f"data ({args.n_train} labels)")
results["physics_only"], pred_phys = run(0, True, "physics (no labels)")
print(f"test relative L2 error ({args.n_test} samples, {V.dim()} DOFs, {args.epochs} epochs):")
print(f"  data-driven, {args.n_train} labels : {results['data_all']:.3e}")
print(f"  physics only, no labels  : {results['physics_only']:.3e}")

truth, pd, pp = (to_functions(t[:1], V)[0] for t in (Yte, pred_data, pred_phys))
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, f, title in zip(axes, (truth, pd, pp), ("Firedrake solution", "data-driven SPON-MG",
                                                "physics-informed (no labels)")):
    fig.colorbar(tripcolor(f, axes=ax), ax=ax)
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.set_axis_off()
fig.savefig(args.out / "physics_darcy_fields.png", dpi=110, bbox_inches="tight")

# %%
# The hybrid curve
# ----------------
# With few labels, adding the physics loss on all inputs is where it pays.
curve = {"labels": [0], "hybrid": [results["physics_only"]], "data_only": [float("nan")]}
for n in (int(s) for s in args.labelled.split(",")):
    curve["labels"].append(n)
    curve["hybrid"].append(run(n, True, f"hybrid ({n} labels)")[0])
    curve["data_only"].append(run(n, False, f"data ({n} labels)")[0])
curve["labels"].append(args.n_train)
curve["hybrid"].append(run(args.n_train, True, f"hybrid ({args.n_train} labels)")[0])
curve["data_only"].append(results["data_all"])
results["curve"] = curve
print("  labels  hybrid      data only")
for n, h, d in zip(curve["labels"], curve["hybrid"], curve["data_only"]):
    print(f"  {n:6d}  {h:.3e}   {d:.3e}")
(args.out / "physics_darcy.json").write_text(json.dumps(results, indent=2))

fig, ax = plt.subplots(figsize=(6.5, 4.3))
ax.semilogy(curve["labels"], curve["hybrid"], "o-", label="data + physics")
ax.semilogy(curve["labels"][1:], curve["data_only"][1:], "s--", label="data only")
ax.set_xlabel("labelled training samples")
ax.set_ylabel("test relative L² error")
ax.set_title(f"SPON-MG on Darcy, {args.n_train} training inputs")
ax.legend()
fig.savefig(args.out / "physics_darcy.png", dpi=120, bbox_inches="tight")
truth.rename("truth")
pd.rename("data_driven")
pp.rename("physics_informed")
fd.VTKFile(str(args.out / "physics_darcy.pvd")).write(truth, pd, pp)
print("wrote physics_darcy.png, physics_darcy_fields.png, physics_darcy.pvd and physics_darcy.json "
      "to the output folder")
