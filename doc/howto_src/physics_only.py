r"""
Train on physics only
=====================

When every label costs a nonlinear solve, train on the equation instead. For
the nonlinear Poisson problem

.. math::

    -\nabla\cdot\big((1 + u^2)\nabla u\big) = f \ \text{in } \Omega, \qquad u = 0 \ \text{on } \partial\Omega,

the operator :math:`f \mapsto u` is trained with no solution at all: the loss
of a sample is the dual norm of the FE residual of the network's output,

.. math::

    F(u; f)(v) = \int_\Omega (1 + u^2)\nabla u\cdot\nabla v - f v\,dx, \qquad
    L(u; f) = \frac{\|F(u; f)\|^2_{V_0'}}{\|F(0; f)\|^2_{V_0'}} ,

evaluated for a whole batch by :class:`~spon.physics.ResidualFunctional`,
which also gives torch the gradient (UFL differentiates the residual). Newton
solves are used below only to score the result.
"""
import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import tripcolor  # noqa: E402

from spon import SPON  # noqa: E402
from spon.data import MaternGRF  # noqa: E402
from spon.fem import CoefficientEncoder, DirichletDecoder, FENorm, to_functions  # noqa: E402
from spon.physics import ResidualFunctional  # noqa: E402
from spon.processors import MultigridProcessor  # noqa: E402
from spon.training import Trainer  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--n-train", type=int, default=64)
p.add_argument("--n-test", type=int, default=8)
p.add_argument("--epochs", type=int, default=60)
p.add_argument("--out", type=Path, default=Path("results/howto_physics"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# Spaces and inputs
# -----------------
hierarchy = fd.MeshHierarchy(fd.UnitSquareMesh(8, 8), 2)
levels = [fd.FunctionSpace(m, "CG", 1) for m in hierarchy]
V = levels[-1]
bc = fd.DirichletBC(V, 0.0, "on_boundary")
F = 20 * MaternGRF(V, length_scale=0.3, smoothness=3.0).sample(args.n_train + args.n_test, seed=0)


# %%
# The residual, written once in UFL
# ---------------------------------
# ``data_spaces=[V]`` says that the second argument, :math:`f`, is a Function
# of ``V`` too. The BC rows are left out: the decoder holds :math:`u = 0`.
# ``norm="L2_preconditioned"`` measures :math:`\|K^{-1} r\|_{L^2}`, the residual
# after one Laplace solve: it weighs errors like an :math:`L^2` data loss does,
# where the plain dual norms weigh high frequencies like :math:`H^1` and train
# slowly.
def residual(u, v, f):
    return (1 + u**2) * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - f * v * fd.dx


R = ResidualFunctional(V, residual, bcs=[bc], norm="L2_preconditioned", data_spaces=[V])


def physics(pred, f):
    u, f = pred.double(), f.double()
    with torch.no_grad():
        R0 = R(torch.zeros_like(u), f)
    return (R(u, f) / R0).to(pred.dtype)


# %%
# Train without labels
# --------------------
# The outputs are ``None``. With no labels the trainer needs a typical size of
# the solution; one linear solve for a typical source gives it.
torch.manual_seed(0)
model = SPON(CoefficientEncoder(V), MultigridProcessor(levels, width=16, coarse_width=32), DirichletDecoder(V, bc))
u0, w, v = fd.Function(V), fd.TrialFunction(V), fd.TestFunction(V)
f0 = to_functions(F[:1], V)[0]
fd.solve(fd.inner(fd.grad(w), fd.grad(v)) * fd.dx == f0 * v * fd.dx, u0, bcs=bc)
trainer = Trainer(model, epochs=args.epochs, batch_size=4, lr=3e-3, desc="physics only")
history = trainer.fit((F[:args.n_train], None), physics=physics, output_scale=float(u0.dat.data_ro.std()))


# %%
# Score against Newton solves, and against labels
# -----------------------------------------------
# For reference, the same model is also trained on Newton solutions of the
# same inputs, with the same budget. The physics-only operator should do as
# well without ever seeing one.
def newton(fs):
    out = []
    for f in to_functions(fs, V):
        u = fd.Function(V)
        fd.solve(residual(u, v, f) == 0, u, bcs=bc)
        out.append(torch.as_tensor(u.dat.data_ro.copy()))
    return torch.stack(out)


truth = newton(F[args.n_train:])
with torch.no_grad():
    pred = model(F[args.n_train:])
rel = FENorm(V).relative_error(pred, truth)

torch.manual_seed(0)
labelled = SPON(CoefficientEncoder(V), MultigridProcessor(levels, width=16, coarse_width=32), DirichletDecoder(V, bc))
Trainer(labelled, epochs=args.epochs, batch_size=4, lr=3e-3, desc="labels").fit((F[:args.n_train],
                                                                                 newton(F[:args.n_train])))
with torch.no_grad():
    rel_data = FENorm(V).relative_error(labelled(F[args.n_train:]), truth)
print(f"test relative L2 error after {args.epochs} epochs (predicting zero gives 1):")
print(f"  physics only, no solutions : {rel.mean():.3f}")
print(f"  {args.n_train} Newton solutions    : {rel_data.mean():.3f}")

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].semilogy(history["epoch"], history["train_loss"], "o-")
axes[0].set_xlabel("epoch")
axes[0].set_title("physics loss (relative residual²)")
for ax, vec, title in ((axes[1], truth[0], "Newton solution"), (axes[2], pred[0], "SPON, physics only")):
    fig.colorbar(tripcolor(to_functions(vec[None], V)[0], axes=ax), ax=ax)
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.set_axis_off()
