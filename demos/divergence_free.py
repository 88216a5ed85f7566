r"""
A divergence-free output
========================

Incompressible flows, magnetic fields and mass fluxes must satisfy
:math:`\nabla\cdot u = 0`. A penalty only pushes towards it; spon's
:class:`~spon.fem.DivergenceFreeDecoder` makes it impossible to miss. The
network outputs a stream function :math:`\psi \in \mathrm{CG}_k`, and the
decoder applies Firedrake's discrete curl

.. math::

    u = \operatorname{curl}\psi = \left(\partial_y \psi,\ -\partial_x \psi\right) \in \mathrm{RT}_k .

Since :math:`\operatorname{curl} \mathrm{CG}_k \subset \mathrm{RT}_k` (the
de Rham complex), the map is exact, and :math:`\nabla\cdot u = 0` to round-off
*whatever the weights are*. Setting :math:`\psi = 0` on :math:`\partial\Omega`
also gives :math:`u\cdot n = 0` there.

Here the "network" is a coordinate MLP with untrained random weights and a
random latent code per sample: the structure does not depend on training.

Run as a script: ``python demos/divergence_free.py`` (seconds).
"""

# %%
# Settings
# --------
# The command line sets the sizes; the defaults are the full run, and the docs
# build uses small ones (``doc/gallery_settings.py``).
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

p = argparse.ArgumentParser(description="A stream function decoded into Raviart-Thomas")
p.add_argument("--h", type=float, default=0.06)
p.add_argument("--degree", type=int, default=2)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--out", type=Path, default=Path("results/divergence_free"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# Spaces and decoders
# -------------------
# A gmsh plate with a hole, the stream-function space
# :math:`Q = \mathrm{CG}_k` and the flux space :math:`V = \mathrm{RT}_k`. The
# second decoder also fixes :math:`\psi = 0` on the boundary.
mesh = gmsh_mesh("plate_with_hole", args.h, name="plate")
Q, V = fd.FunctionSpace(mesh, "CG", args.degree), fd.FunctionSpace(mesh, "RT", args.degree)
decoder = DivergenceFreeDecoder(Q, V)
no_flux = DivergenceFreeDecoder(Q, V, bcs=fd.DirichletBC(Q, 0, "on_boundary"))

# %%
# Random network outputs
# ----------------------
# The MLP reads the coordinates of the DOFs of :math:`Q` and a latent code
# :math:`z \in \mathbb{R}^2` per sample, and returns one value per DOF.
torch.manual_seed(0)
X = torch.tensor(fd.Function(fd.VectorFunctionSpace(mesh, "CG", args.degree)).interpolate(
    fd.SpatialCoordinate(mesh)).dat.data_ro)
net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.Tanh(),
                          torch.nn.Linear(32, 1)).double()
z = torch.randn(args.batch, 1, 2, dtype=torch.float64).expand(-1, X.shape[0], -1)
psi = net(torch.cat([3 * X.expand(args.batch, -1, -1), z], dim=-1))[..., 0]   # (batch, DOFs of Q)

# %%
# Decode and measure
# ------------------
# We measure :math:`\|\nabla\cdot u\|_{L^2}` against :math:`\|u\|_{L^2}`, and
# the normal flux :math:`\|u\cdot n\|_{L^2(\partial\Omega)}` of the second decoder.
us = decoder.decode(psi)
ws = no_flux.decode(psi)
n = fd.FacetNormal(mesh)
div = [fd.assemble(fd.div(u) ** 2 * fd.dx) ** 0.5 for u in us + ws]
flux = [fd.assemble(fd.dot(w, n) ** 2 * fd.ds) ** 0.5 for w in ws]
size = [fd.norm(u) for u in us + ws]
print(f"{args.batch} random network outputs decoded into RT{args.degree} ({V.dim()} DOFs) on a plate with a hole:")
print(f"  max ‖div u‖_L2 = {max(div):.2e} (min ‖u‖_L2 = {min(size):.2e})")
print(f"  with ψ = 0 on ∂Ω: max ‖u·n‖_L2(∂Ω) = {max(flux):.2e}")

# %%
# One decoded flow
# ----------------
u = us[0]
speed = fd.Function(fd.FunctionSpace(mesh, "CG", 1), name="speed").interpolate(fd.sqrt(fd.inner(u, u)))
fig, ax = plt.subplots(figsize=(7, 6))
fig.colorbar(tripcolor(speed, axes=ax, cmap="magma"), ax=ax, label="|u|")
quiver(fd.Function(fd.VectorFunctionSpace(mesh, "CG", 1)).interpolate(u), axes=ax, cmap="Greys")
ax.set_aspect("equal")
ax.set_axis_off()
ax.set_title(f"decoded random flow: ‖div u‖ = {div[0]:.1e}")
fig.savefig(args.out / "divergence_free.png", dpi=110, bbox_inches="tight")
u.rename("u")
fd.VTKFile(str(args.out / "divergence_free.pvd")).write(u, speed)
print("wrote divergence_free.png and divergence_free.pvd to the output folder")
max_div, max_flux, min_size = max(div), max(flux), min(size)
