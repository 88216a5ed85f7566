"""Exactly divergence-free outputs: a stream function decoded into Raviart–Thomas.

A network (here: a coordinate MLP with untrained random weights and a random
latent code per sample, to show that the structure does not depend on
training) outputs a stream function ψ ∈ CG_k at the DOF coordinates of a gmsh
mesh of a plate with a hole. The decoder maps them by Firedrake's exact
discrete curl into u ∈ RT_k, so ``div u = 0`` to round-off — whatever the
weights are. With a Dirichlet condition ψ = 0 on the boundary, the same
decoder also gives ``u·n = 0`` there. The script prints ‖div u‖ (and ‖u·n‖ on
the boundary for the second decoder) for a batch, plots the speed ``|u|``
with arrows, and writes a .pvd.

Run: ``python demos/divergence_free.py`` (seconds).
"""
import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import quiver, tripcolor  # noqa: E402

from spon.fem import DivergenceFreeDecoder  # noqa: E402
from spon.mesh import gmsh_mesh  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--h", type=float, default=0.06)
    p.add_argument("--degree", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path("results/divergence_free"))
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)

    mesh = gmsh_mesh("plate_with_hole", a.h, name="plate")
    Q, V = fd.FunctionSpace(mesh, "CG", a.degree), fd.FunctionSpace(mesh, "RT", a.degree)
    decoder = DivergenceFreeDecoder(Q, V)
    no_flux = DivergenceFreeDecoder(Q, V, bcs=fd.DirichletBC(Q, 0, "on_boundary"))
    torch.manual_seed(0)
    X = torch.tensor(fd.Function(fd.VectorFunctionSpace(mesh, "CG", a.degree)).interpolate(
        fd.SpatialCoordinate(mesh)).dat.data_ro)
    net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                              torch.nn.Linear(32, 1)).double()
    z = torch.randn(a.batch, 1, 2, dtype=torch.float64).expand(-1, X.shape[0], -1)
    psi = net(torch.cat([3 * X.expand(a.batch, -1, -1), z], dim=-1))[..., 0]   # (batch, DOFs of Q)
    us = decoder.decode(psi)
    n = fd.FacetNormal(mesh)
    ws = no_flux.decode(psi)
    div = [fd.assemble(fd.div(u) ** 2 * fd.dx) ** 0.5 for u in us + ws]
    flux = [fd.assemble(fd.dot(w, n) ** 2 * fd.ds) ** 0.5 for w in ws]
    size = [fd.norm(u) for u in us + ws]
    print(f"{a.batch} random network outputs decoded into RT{a.degree} ({V.dim()} DOFs) on a plate with a hole:")
    print(f"  max ‖div u‖_L2 = {max(div):.2e} (min ‖u‖_L2 = {min(size):.2e})")
    print(f"  with ψ = 0 on ∂Ω: max ‖u·n‖_L2(∂Ω) = {max(flux):.2e}")

    u = us[0]
    speed = fd.Function(fd.FunctionSpace(mesh, "CG", 1), name="speed").interpolate(fd.sqrt(fd.inner(u, u)))
    fig, ax = plt.subplots(figsize=(6, 5.5))
    fig.colorbar(tripcolor(speed, axes=ax, cmap="magma"), ax=ax, label="|u|")
    quiver(fd.Function(fd.VectorFunctionSpace(mesh, "CG", 1)).interpolate(u), axes=ax, cmap="Greys")
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"decoded random flow: ‖div u‖ = {div[0]:.1e}")
    fig.savefig(a.out / "divergence_free.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    u.rename("u")
    fd.VTKFile(str(a.out / "divergence_free.pvd")).write(u, speed)
    print(f"wrote {a.out}/divergence_free.png and divergence_free.pvd")
    return max(div), max(flux), min(size)


if __name__ == "__main__":
    main()
