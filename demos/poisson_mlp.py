r"""
FE maps and exact structure: encode, MLP, decode
================================================

The smallest complete spon operator. We solve the Poisson problem

.. math::

    -\Delta u = f \ \text{in } \Omega = (0, 1)^2, \qquad u = g \ \text{on } \partial\Omega,

for many random sources :math:`f` with Firedrake, and fit a learned operator
:math:`S = D \circ P_\theta \circ E` from :math:`f` to :math:`u`. Encoder and
decoder come from the finite element space; only the processor is learned:

* :math:`E` is the Galerkin-moment encoder :math:`b_i = \int_\Omega f\,\phi_i\,dx`,
  the FE load vector;
* :math:`P_\theta` is a plain MLP on the coefficient vector;
* :math:`D` is the Dirichlet decoder :math:`u = \operatorname{lift}(g) + Z\hat u`,
  where :math:`Z` zeroes the boundary DOFs and the lift is the discrete
  harmonic extension of :math:`g`. The boundary data therefore hold exactly,
  for every value of the weights.

Run as a script: ``python demos/poisson_mlp.py`` (about a minute on 2 cores).
"""

# %%
# Settings
# --------
# Every demo takes its settings from the command line; the defaults are the
# full run.
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
import numpy as np  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import tripcolor  # noqa: E402
from tqdm import tqdm, trange  # noqa: E402

from spon import SPON, MLPProcessor  # noqa: E402
from spon.fem import DirichletDecoder, FELoss, FENorm, MomentEncoder, to_functions  # noqa: E402
from spon.mesh import gmsh_mesh  # noqa: E402

p = argparse.ArgumentParser(description="Encode-MLP-decode for Poisson with exact Dirichlet data")
p.add_argument("--h", type=float, default=0.05, help="gmsh mesh size")
p.add_argument("--n-train", type=int, default=200)
p.add_argument("--n-test", type=int, default=50)
p.add_argument("--epochs", type=int, default=1500)
p.add_argument("--width", type=int, default=256)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--out", type=Path, default=Path("results/poisson_mlp"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(args.seed)

# %%
# Mesh, space and boundary data
# -----------------------------
# An unstructured gmsh mesh of the unit square, continuous P1, and a
# non-trivial Dirichlet datum :math:`g = x^2 - y^2 + \tfrac12 \sin 2\pi x`.
mesh = gmsh_mesh("unit_square", h=args.h)
V = fd.FunctionSpace(mesh, "CG", 1)
x, y = fd.SpatialCoordinate(mesh)
bc = fd.DirichletBC(V, x * x - y * y + 0.5 * fd.sin(2 * np.pi * x), "on_boundary")
print(f"mesh: {mesh.num_cells()} cells, V = CG1 with {V.dim()} DOFs")


# %%
# Data
# ----
# Smooth random sources :math:`f = 20\sum_{k,l \le 6} a_{kl} \sin(k\pi x)\sin(l\pi y)
# / (k^2 + l^2)^{3/4}` with :math:`a_{kl} \sim N(0, 1)`. The operator is
# assembled and factorised once (``constant_jacobian=True``); each sample is one
# back-substitution.
def random_sources(V, n, modes=6, seed=0):
    x, y = fd.SpatialCoordinate(V.mesh())
    basis = []
    for k in range(1, modes + 1):
        for m in range(1, modes + 1):
            phi = fd.Function(V).interpolate(fd.sin(k * np.pi * x) * fd.sin(m * np.pi * y))
            basis.append(phi.dat.data_ro.copy() / (k * k + m * m) ** 0.75)
    a = np.random.default_rng(seed).standard_normal((n, len(basis)))
    return 20.0 * a @ np.array(basis)


n = args.n_train + args.n_test
F = random_sources(V, n, seed=args.seed)
f, u = fd.Function(V), fd.Function(V)
v, w = fd.TestFunction(V), fd.TrialFunction(V)
problem = fd.LinearVariationalProblem(fd.inner(fd.grad(w), fd.grad(v)) * fd.dx, f * v * fd.dx, u,
                                      bcs=bc, constant_jacobian=True)
solver = fd.LinearVariationalSolver(problem, solver_parameters={"ksp_type": "preonly", "pc_type": "lu"})
U = np.empty_like(F)
t0 = time.perf_counter()
for i in tqdm(range(n), desc="Poisson solves"):
    f.dat.data[:] = F[i]
    solver.solve()
    U[i] = u.dat.data_ro
t_data = time.perf_counter() - t0
F, U = torch.as_tensor(F), torch.as_tensor(U)
Ftr, Fte, Utr, Ute = F[:args.n_train], F[args.n_train:], U[:args.n_train], U[args.n_train:]
print(f"data: {n} solves in {t_data:.1f} s")

# %%
# The operator
# ------------
# :class:`~spon.fem.MomentEncoder` and :class:`~spon.fem.DirichletDecoder` hold
# their FE matrices as torch sparse buffers, so the model is an ordinary
# :class:`torch.nn.Module`. The input scale is fitted from the training inputs.
dec = DirichletDecoder(V, bc, lifting="harmonic")
model = SPON(MomentEncoder(V), MLPProcessor(V.dim(), V.dim(), width=args.width, depth=2), dec)
model.fit_input_scale(Ftr)
print(f"{sum(q.numel() for q in model.parameters())} parameters")

# %%
# Training in the FE norm
# -----------------------
# The loss is the relative :math:`L^2(\Omega)` error measured with the mass
# matrix, :math:`\|e\|^2 = e^T M e`, not the Euclidean norm of the coefficient
# vector, which would weight small cells less.
loss_fn, l2 = FELoss(V, "L2"), FENorm(V, "L2")
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
t0 = time.perf_counter()
bar = trange(args.epochs, desc="training")
for epoch in bar:
    for idx in torch.randperm(args.n_train).split(50):
        opt.zero_grad()
        loss = loss_fn(model(Ftr[idx]), Utr[idx])
        loss.backward()
        opt.step()
    sched.step()
    if epoch % 50 == 0:
        bar.set_postfix(loss=f"{loss.item():.2e}")
print(f"training: {args.epochs} epochs in {time.perf_counter() - t0:.1f} s")

# %%
# Test error, and the boundary data to round-off
# ----------------------------------------------
with torch.no_grad():
    pred = model(Fte)
    rel = l2.relative_error(pred, Ute)
    bnd = (pred[:, dec.boundary_dofs] - Ute[:, dec.boundary_dofs]).abs().max().item()
print(f"test relative L2 error: mean {rel.mean():.3e}, max {rel.max():.3e}")
print(f"max boundary DOF error: {bnd:.1e}")

# %%
# The worst test sample
# ---------------------
# Even where the interior is least accurate, the boundary values are exact.
i = int(rel.argmax())
fu, pu = to_functions(Ute[i:i + 1], V)[0], dec.decode(pred[i:i + 1])[0]
fe = fd.Function(V, name="error").assign(pu - fu)
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, g, title in zip(axes, (fu, pu, fe), ("Firedrake solution", "SPON prediction", "error")):
    ax.set_aspect("equal")
    fig.colorbar(tripcolor(g, axes=ax, cmap="RdBu_r" if g is fe else "viridis"), ax=ax)
    ax.set_title(title)
fig.suptitle(f"worst test sample: relative L2 error {rel[i]:.2e}")
fig.savefig(args.out / "poisson_mlp.png", dpi=120, bbox_inches="tight")
fu.rename("truth")
pu.rename("prediction")
fd.VTKFile(str(args.out / "poisson_mlp.pvd")).write(fu, pu, fe)
print("wrote poisson_mlp.png and poisson_mlp.pvd to the output folder")
rel_mean = rel.mean().item()
