"""Encode–MLP–decode for Poisson on a gmsh mesh, with Dirichlet data held exactly.

Solves ``-Δu = f`` in the unit square, ``u = g`` on the boundary, for random
right-hand sides ``f`` with Firedrake, then fits ``S = D ∘ MLP ∘ E`` where

* ``E`` is the Galerkin-moment encoder ``b_i = ∫ f φ_i dx`` (the FE load vector),
* ``D`` is the Dirichlet decoder ``u = lift(g) + Z û`` (boundary DOFs exact;
  the lift is the discrete harmonic extension of g),

trained in the relative FE L² norm. Prints the test error, the largest
boundary-DOF error, and writes a PNG figure and a VTK file.

Run: ``python demos/poisson_mlp.py`` (about a minute on 2 cores).
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
import numpy as np  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import tripcolor  # noqa: E402
from tqdm import tqdm, trange  # noqa: E402

from spon import SPON, MLPProcessor  # noqa: E402
from spon.fem import DirichletDecoder, FELoss, FENorm, MomentEncoder, to_functions  # noqa: E402
from spon.mesh import gmsh_mesh  # noqa: E402


def random_sources(V, n, modes=6, seed=0):
    """Random smooth f = Σ a_kl sin(kπx) sin(lπy) / (k² + l²)^0.75, a_kl ~ N(0, 1)."""
    x, y = fd.SpatialCoordinate(V.mesh())
    basis = []
    for k in range(1, modes + 1):
        for m in range(1, modes + 1):
            phi = fd.Function(V).interpolate(fd.sin(k * np.pi * x) * fd.sin(m * np.pi * y))
            basis.append(phi.dat.data_ro.copy() / (k * k + m * m) ** 0.75)
    a = np.random.default_rng(seed).standard_normal((n, len(basis)))
    return 20.0 * a @ np.array(basis)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--h", type=float, default=0.05, help="gmsh mesh size")
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--n-test", type=int, default=50)
    p.add_argument("--epochs", type=int, default=1500)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/poisson_mlp"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)

    mesh = gmsh_mesh("unit_square", h=args.h)
    V = fd.FunctionSpace(mesh, "CG", 1)
    x, y = fd.SpatialCoordinate(mesh)
    bc = fd.DirichletBC(V, x * x - y * y + 0.5 * fd.sin(2 * np.pi * x), "on_boundary")
    print(f"mesh: {mesh.num_cells()} cells, V = CG1 with {V.dim()} DOFs")

    # --- data: one assembled operator and factorisation for all samples ---
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

    # --- model: E (load vector) -> MLP -> D (exact Dirichlet data) ---
    dec = DirichletDecoder(V, bc, lifting="harmonic")
    model = SPON(MomentEncoder(V), MLPProcessor(V.dim(), V.dim(), width=args.width, depth=2), dec)
    model.fit_input_scale(Ftr)

    loss_fn, l2 = FELoss(V, "L2"), FENorm(V, "L2")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    t0 = time.perf_counter()
    bar = trange(args.epochs, desc="training")
    for epoch in bar:
        perm = torch.randperm(args.n_train)
        for idx in perm.split(50):
            opt.zero_grad()
            loss = loss_fn(model(Ftr[idx]), Utr[idx])
            loss.backward()
            opt.step()
        sched.step()
        if epoch % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.2e}")
    t_train = time.perf_counter() - t0

    with torch.no_grad():
        pred = model(Fte)
        rel = l2.relative_error(pred, Ute)
        bnd = (pred[:, dec.boundary_dofs] - Ute[:, dec.boundary_dofs]).abs().max().item()
    print(f"data: {n} solves in {t_data:.1f} s; training: {args.epochs} epochs in {t_train:.1f} s, "
          f"{sum(p.numel() for p in model.parameters())} parameters")
    print(f"test relative L2 error: mean {rel.mean():.3e}, max {rel.max():.3e}")
    print(f"max boundary DOF error: {bnd:.1e}")

    # --- figures and VTK ---
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
    print(f"wrote {args.out / 'poisson_mlp.png'} and {args.out / 'poisson_mlp.pvd'}")
    return rel.mean().item(), bnd


if __name__ == "__main__":
    main()
