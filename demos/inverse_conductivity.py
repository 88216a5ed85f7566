r"""
The inverse conductivity problem
================================

Torch drives Firedrake's adjoint: four inverse problems solved at once.

For each of :math:`B` unknown conductivities :math:`\kappa_b = e^{m_b}` we
observe :math:`u_b`, the solution of

.. math::

    -\nabla\cdot(\kappa_b \nabla u) = 1 \ \text{in } \Omega, \qquad u = 0 \ \text{on } \partial\Omega,

at every node, with 1 % Gaussian noise. We recover :math:`m_b` by minimising

.. math::

    J_b(m) = \frac12 \frac{\|u(m) - u^{\text{obs}}_b\|^2_{L^2}}{\|u^{\text{obs}}_b\|^2_{L^2}}
             + \frac{\alpha}{2} \|\nabla m\|^2_{L^2}

with torch's L-BFGS. Each :math:`J_b` is a pyadjoint-annotated Firedrake
computation wrapped by :class:`spon.physics.ReducedFunctional`: the tape is
recorded once, and every sample of the batch is replayed and differentiated
with its own state, so :math:`B` problems run in one torch optimisation.

Run as a script: ``python demos/inverse_conductivity.py`` (about a minute on 2 cores).
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
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import tripcolor  # noqa: E402
from tqdm import trange  # noqa: E402

from spon.data import MaternGRF  # noqa: E402
from spon.fem import FENorm, to_functions  # noqa: E402
from spon.mesh import gmsh_mesh  # noqa: E402
from spon.physics import ReducedFunctional  # noqa: E402

p = argparse.ArgumentParser(description="The inverse conductivity problem, a batch at a time")
p.add_argument("--h", type=float, default=0.05)
p.add_argument("--batch", type=int, default=4)
p.add_argument("--noise", type=float, default=0.01)
p.add_argument("--alpha", type=float, default=1e-5)
p.add_argument("--iterations", type=int, default=40)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--out", type=Path, default=Path("results/inverse_conductivity"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# The forward model
# -----------------
# A plain Firedrake solve. One fixed quadrature degree serves the forward and
# adjoint forms (:math:`e^m` is not a polynomial).
mesh = gmsh_mesh("unit_square", args.h, name="inverse")
V = fd.FunctionSpace(mesh, "CG", 1)
dx = fd.dx(degree=4)
bc = fd.DirichletBC(V, 0, "on_boundary")


def forward(m):
    u = fd.Function(V)
    w, v = fd.TrialFunction(V), fd.TestFunction(V)
    fd.solve(fd.exp(m) * fd.inner(fd.grad(w), fd.grad(v)) * dx == v * dx, u, bcs=bc,
             solver_parameters={"ksp_type": "preonly", "pc_type": "lu"})
    return u


# %%
# Synthetic truth and noisy observations
# --------------------------------------
# :math:`m_b` is a smooth Matérn field, sampled by :class:`~spon.data.MaternGRF`.
m_true = 0.6 * MaternGRF(V, length_scale=0.3, smoothness=3.0).sample(args.batch, seed=args.seed)
gen = torch.Generator().manual_seed(args.seed + 1)
obs = []
for b in range(args.batch):
    mt = to_functions(m_true[b:b + 1], V)[0]
    u = torch.tensor(forward(mt).dat.data_ro)
    obs.append(u + args.noise * u.abs().max() * torch.randn(u.shape, generator=gen, dtype=torch.float64))
u_obs = torch.stack(obs)


# %%
# The objective as a torch function
# ---------------------------------
# ``objective`` is written for one sample, with Firedrake objects.
# :class:`~spon.physics.ReducedFunctional` turns it into a batched torch
# function of a ``(B, dim V)`` tensor whose backward runs pyadjoint's adjoint.
def objective(m, uo):
    u = forward(m)
    misfit = fd.assemble(0.5 * (u - uo) ** 2 * dx) / fd.assemble(uo ** 2 * dx)
    return misfit + fd.assemble(0.5 * args.alpha * fd.inner(fd.grad(m), fd.grad(m)) * dx)


J = ReducedFunctional(V, objective, data_spaces=[V])
m = torch.zeros(args.batch, V.dim(), dtype=torch.float64, requires_grad=True)
opt = torch.optim.LBFGS([m], lr=1.0, max_iter=1, history_size=20, line_search_fn="strong_wolfe")


def closure():
    opt.zero_grad()
    loss = J(m, u_obs).sum()
    loss.backward()
    return loss


t0 = time.perf_counter()
bar = trange(args.iterations, desc="L-BFGS")
for _ in bar:
    loss = opt.step(closure)
    bar.set_postfix(J=f"{loss.item():.3e}")
elapsed = time.perf_counter() - t0

# %%
# How well is κ recovered?
# ------------------------
l2 = FENorm(V)
k_true, k_rec = m_true.exp(), m.detach().exp()
rel = l2.relative_error(k_rec, k_true)
rel0 = l2.relative_error(torch.ones_like(k_true), k_true)
print(f"{args.batch} inverse problems, {V.dim()} unknowns each, {args.noise:.0%} noise, α = {args.alpha:g}: "
      f"{args.iterations} L-BFGS iterations in {elapsed:.1f} s")
for b in range(args.batch):
    print(f"  sample {b}: relative L2 error of κ {rel[b]:.3e} (initial guess κ = 1: {rel0[b]:.3e})")

fig, axes = plt.subplots(2, args.batch, figsize=(3.6 * args.batch, 6.5), squeeze=False)
for b in range(args.batch):
    kt, kr = to_functions(k_true[b:b + 1], V)[0], to_functions(k_rec[b:b + 1], V)[0]
    lo, hi = float(k_true[b].min()), float(k_true[b].max())
    for row, f, title in ((0, kt, "true κ"), (1, kr, f"recovered, error {rel[b]:.1%}")):
        ax = axes[row, b]
        fig.colorbar(tripcolor(f, axes=ax, vmin=lo, vmax=hi), ax=ax)
        ax.set_title(title)
        ax.set_aspect("equal")
        ax.set_axis_off()
fig.savefig(args.out / "inverse_conductivity.png", dpi=100, bbox_inches="tight")
kt, kr = to_functions(k_true[:1], V)[0], to_functions(k_rec[:1], V)[0]
kt.rename("kappa_true")
kr.rename("kappa_recovered")
fd.VTKFile(str(args.out / "inverse_conductivity.pvd")).write(kt, kr)
print("wrote inverse_conductivity.png and inverse_conductivity.pvd to the output folder")
