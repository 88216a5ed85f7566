r"""
Bring your own Firedrake mesh and spaces
========================================

You already have a Firedrake mesh, function spaces and boundary conditions.
This guide builds a SPON-MG operator on them, trains it on your own solver's
data, saves it with its mesh, loads it back and writes predictions as
Firedrake Functions.
"""
import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import tripcolor  # noqa: E402

from spon.fem import (DirichletDecoder, FENorm, L2ProjectionEncoder, load_functions, save_functions,  # noqa: E402
                      to_functions, to_tensor)
from spon.models import SPON, load_checkpoint, save_checkpoint  # noqa: E402
from spon.processors import MultigridProcessor  # noqa: E402
from spon.training import Trainer  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=60, help="samples (80 % train)")
p.add_argument("--epochs", type=int, default=30)
p.add_argument("--out", type=Path, default=Path("results/howto_byo"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# Your mesh, hierarchy, spaces and BCs
# ------------------------------------
# Any Firedrake mesh works; a multigrid processor needs a
# :func:`~firedrake.mg.mesh.MeshHierarchy` whose finest level carries the data.
# Here, the input is a conductivity in :math:`\mathrm{DG}_0` and the output a
# :math:`\mathrm{CG}_1` field with :math:`u = 0.5` on the left and right edges
# (boundary ids 1 and 2 of :func:`~firedrake.utility_meshes.UnitSquareMesh`).
base = fd.UnitSquareMesh(6, 6, name="my_base")
hierarchy = fd.MeshHierarchy(base, 2)
levels = [fd.FunctionSpace(m, "CG", 1) for m in hierarchy]
U, V = fd.FunctionSpace(hierarchy[-1], "DG", 0), levels[-1]
bc = fd.DirichletBC(V, 0.5, (1, 2))

# %%
# Your data
# ---------
# Your own solver, here :math:`-\nabla\cdot(\kappa\nabla u) = 1` with a random
# smooth conductivity per sample. :func:`~spon.fem.to_tensor` stacks Functions
# into a ``(batch, dofs)`` tensor in Firedrake's DOF order.
x, y = fd.SpatialCoordinate(hierarchy[-1])
rng = np.random.default_rng(0)
kappa, u = fd.Function(U), fd.Function(V)
w, v = fd.TrialFunction(V), fd.TestFunction(V)
solver = fd.LinearVariationalSolver(fd.LinearVariationalProblem(
    kappa * fd.inner(fd.grad(w), fd.grad(v)) * fd.dx, v * fd.dx, u, bcs=bc))
inputs, outputs = [], []
for _ in range(args.n):
    a = rng.standard_normal(4)
    kappa.interpolate(fd.exp(a[0] * fd.sin(np.pi * x) + a[1] * fd.cos(np.pi * y)
                             + 0.5 * a[2] * fd.sin(2 * np.pi * x * y) + 0.5 * a[3]))
    u.assign(0)
    solver.solve()
    inputs.append(kappa.copy(deepcopy=True))
    outputs.append(u.copy(deepcopy=True))
X, Y = to_tensor(inputs), to_tensor(outputs)
n_train = int(0.8 * args.n)

# %%
# The model
# ---------
# Encoder, processor and decoder are built from your spaces.
# :class:`~spon.fem.DirichletDecoder` takes your ``DirichletBC``, so
# :math:`u = 0.5` holds exactly on those edges.
torch.manual_seed(0)
model = SPON(L2ProjectionEncoder(U, V), MultigridProcessor(levels, width=16, coarse_width=32),
             DirichletDecoder(V, bc))
Trainer(model, epochs=args.epochs, batch_size=8, lr=3e-3, desc="train").fit((X[:n_train], Y[:n_train]))

# %%
# Save and load
# -------------
# :func:`~spon.models.save_checkpoint` writes the weights and a spec; a model
# on your own mesh also gets its base mesh in ``<name>.mesh.h5``, written with
# Firedrake's :class:`~firedrake.checkpointing.CheckpointFile`. Loading rebuilds
# the hierarchy, spaces and BCs, and predicts exactly as before.
save_checkpoint(model, args.out / "my_model.pt")
loaded = load_checkpoint(args.out / "my_model.pt")
with torch.no_grad():
    before, after = model(X[n_train:]), loaded(X[n_train:].to(loaded.input_scale.dtype))
print("files:", sorted(f.name for f in args.out.iterdir()))
print("reloaded model predicts the same values:", torch.equal(before, after))
print(f"test relative L2 error: {FENorm(V).relative_error(before.double(), Y[n_train:]).mean():.3f}")

# %%
# Predictions as Firedrake Functions
# ----------------------------------
# ``as_functions=True`` returns Functions of ``V``;
# :func:`~spon.fem.save_functions` writes a batch of them to one
# ``CheckpointFile`` that any Firedrake script can read.
with torch.no_grad():
    preds = model(inputs[n_train:], as_functions=True)
save_functions(args.out / "predictions.h5", to_tensor(preds), V, name="u")
back = load_functions(args.out / "predictions.h5", name="u")
print(f"{len(back)} predictions written and read back as Functions of {back[0].function_space().ufl_element()}")

fig, axes = plt.subplots(1, 3, figsize=(14, 4))
truth = to_functions(Y[n_train:n_train + 1], V)[0]
for ax, f, title in zip(axes, (inputs[n_train], truth, preds[0]), ("κ", "your solver", "SPON-MG")):
    fig.colorbar(tripcolor(f, axes=ax), ax=ax)
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.set_axis_off()
