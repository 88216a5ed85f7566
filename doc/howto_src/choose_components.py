r"""
Choose an encoder, processor and decoder
========================================

A spon operator is :math:`S = D \circ P_\theta \circ E`. The encoder
:math:`E` and the decoder :math:`D` are fixed FE maps; they decide what the
operator keeps exactly. The processor :math:`P_\theta` is what learns; it
decides how far information travels and on which meshes the weights can run.

**Encoder: how the input reaches the model's space.**

.. list-table::
   :header-rows: 1
   :widths: 28 36 36

   * - Your input is ...
     - Use
     - Why
   * - already in the model's space
     - :class:`~spon.fem.CoefficientEncoder`
     - no change, no cost
   * - a source or load (a right-hand side)
     - :class:`~spon.fem.MomentEncoder`, :math:`b_i = \int f\phi_i`
     - the FE load vector; integrates, so noise averages out
   * - a coefficient in another space (e.g. :math:`\kappa \in \mathrm{DG}_0`)
     - :class:`~spon.fem.L2ProjectionEncoder`, :math:`M^{-1}b`
     - best :math:`L^2` fit; keeps the mean exactly
   * - smooth, and point values are enough
     - :class:`~spon.fem.InterpolationEncoder`
     - cheapest; exact for what the space can represent
   * - on another mesh of the same domain
     - :func:`~spon.fem.TransferEncoder` (L² via a supermesh, or interpolation)
     - non-nested meshes; see ``SPON.on_spaces``

**Decoder: what holds for every value of the weights.**

.. list-table::
   :header-rows: 1
   :widths: 28 36 36

   * - The output must ...
     - Use
     - Holds to round-off
   * - satisfy Dirichlet data
     - :class:`~spon.fem.DirichletDecoder` with your ``DirichletBC``
     - boundary DOFs equal the data
   * - be divergence-free (flux, incompressible velocity)
     - :class:`~spon.fem.DivergenceFreeDecoder`: stream function in
       :math:`\mathrm{CG}_k`, curl into :math:`\mathrm{RT}_k`
     - :math:`\nabla\cdot u = 0`; with :math:`\psi = 0` on the boundary also :math:`u\cdot n = 0`
   * - be periodic
     - any decoder on a space of a periodic mesh
     - the space has no non-periodic functions
   * - live in a mixed space (velocity and pressure)
     - :class:`~spon.fem.MixedDecoder`, one decoder per subspace
     - each part's structure
   * - nothing in particular
     - :class:`~spon.fem.CoefficientDecoder`
     - --

**Processor: how information travels.**

.. list-table::
   :header-rows: 1
   :widths: 28 36 36

   * - Your problem ...
     - Use
     - Trade-off
   * - is small (a few thousand DOFs) and the mesh never changes
     - :class:`~spon.processors.MLPProcessor`
     - dense: parameters grow with DOFs², weights tied to one mesh
   * - is local (hyperbolic, short range), or the mesh has no hierarchy
     - :class:`~spon.processors.GraphProcessor`
     - message passing on the DOF graph; reach is one edge per layer
   * - is elliptic (diffusion, elasticity, pressure): every point sees every source
     - :class:`~spon.processors.MultigridProcessor` on a
       :func:`~firedrake.mg.mesh.MeshHierarchy`
     - a learned V-cycle: global reach at linear cost
   * - has a mixed output (Taylor–Hood velocity and pressure)
     - either of the two above, wrapped by :class:`~spon.processors.SharedNodeProcessor`
       (what ``build_spon`` does for a mixed output with ``"graph"`` or ``"mg"``)
     - one graph on the P2 nodes; velocity and pressure are channels there

The code below checks the decoders' promises with untrained, random weights,
and shows how the processors' sizes grow with the mesh.
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
from spon.fem import (CoefficientDecoder, CoefficientEncoder, DirichletDecoder, DivergenceFreeDecoder,  # noqa: E402
                      MixedDecoder)
from spon.mesh import gmsh_mesh  # noqa: E402
from spon.processors import GraphProcessor, MLPProcessor  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--out", type=Path, default=Path("results/howto_choose"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)

# %%
# Decoders keep their promise before any training
# -----------------------------------------------
# A random graph processor on a gmsh plate with a hole feeds three decoders.
mesh = gmsh_mesh("plate_with_hole", 0.08, name="plate")
Q = fd.FunctionSpace(mesh, "CG", 2)
x = torch.randn(4, Q.dim(), dtype=torch.float64)

# exact Dirichlet data: u = 1 on the whole boundary
bc = fd.DirichletBC(Q, 1.0, "on_boundary")
dirichlet = SPON(CoefficientEncoder(Q), GraphProcessor(Q, width=16, layers=2), DirichletDecoder(Q, bc)).double()
with torch.no_grad():
    u = dirichlet(x)
print(f"Dirichlet decoder: max |u - 1| on the boundary = {(u[:, bc.nodes] - 1).abs().max():.1e}")

# exactly divergence-free flux in RT2
V = fd.FunctionSpace(mesh, "RT", 2)
divfree = SPON(CoefficientEncoder(Q), GraphProcessor(Q, width=16, layers=2), DivergenceFreeDecoder(Q, V)).double()
with torch.no_grad():
    flows = divfree(x, as_functions=True)
div = max(fd.norm(fd.div(f)) / fd.norm(f) for f in flows)
print(f"divergence-free decoder: max ‖div u‖ / ‖u‖ = {div:.1e}")

# a Taylor-Hood pair: velocity with no-slip walls, free pressure
Vu, Vp = fd.VectorFunctionSpace(mesh, "CG", 2), fd.FunctionSpace(mesh, "CG", 1)
W = Vu * Vp
noslip = fd.DirichletBC(Vu, fd.Constant((0.0, 0.0)), "on_boundary")
mixed = MixedDecoder(W, [DirichletDecoder(Vu, noslip), CoefficientDecoder(Vp)])
with torch.no_grad():
    up = mixed(torch.randn(2, mixed.in_dim, dtype=torch.float64))
vel = up[:, :Vu.dim()].reshape(2, -1, 2)
wall = vel[:, noslip.nodes].abs().max()
print(f"mixed decoder (Taylor–Hood P2-P1, {W.dim()} DOFs): max |u| on the walls = {wall:.1e}")

fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
fig.colorbar(tripcolor(dirichlet(x[:1], as_functions=True)[0], axes=axes[0]), ax=axes[0])
axes[0].set_title("random Dirichlet-decoded output (u = 1 on ∂Ω)")
speed = fd.Function(fd.FunctionSpace(mesh, "CG", 1)).interpolate(fd.sqrt(fd.inner(flows[0], flows[0])))
fig.colorbar(tripcolor(speed, axes=axes[1], cmap="magma"), ax=axes[1])
axes[1].set_title(f"random divergence-free flow, |u| (div/size {div:.0e})")
for ax in axes:
    ax.set_aspect("equal")
    ax.set_axis_off()

# %%
# Processor size against mesh size
# --------------------------------
# The MLP's parameters grow with the square of the DOF count; the graph
# processor's weights act per node and per edge, so their number does not
# depend on the mesh.
print(f"{'mesh h':>7s} {'DOFs':>6s} {'MLP params':>11s} {'graph params':>13s}")
for h in (0.2, 0.1, 0.05):
    Vh = fd.FunctionSpace(gmsh_mesh("unit_square", h), "CG", 1)
    mlp = sum(q.numel() for q in MLPProcessor(Vh.dim(), Vh.dim(), width=256, depth=2).parameters())
    graph = sum(q.numel() for q in GraphProcessor(Vh, width=32, layers=4).parameters())
    print(f"{h:7.2f} {Vh.dim():6d} {mlp:11d} {graph:13d}")
