r"""
FE² with your own RVE file and materials
========================================

EquiNO's three RVEs are built in (:func:`spon.mesh.rve_mesh`), but your
microstructure is your own. This guide meshes an RVE with the gmsh API,
checks that it is periodic, gives each phase a material law (one of them
written here), homogenises it, and runs it as the material of an FE²
computation on Cook's membrane.

What spon needs from the mesh file:

* the unit cell :math:`[0, 1]^2`, with **periodic node pairs** on opposite
  edges (gmsh ``setPeriodic``), so Firedrake glues them and the fluctuation
  space is periodic by construction;
* a **physical surface per phase**; its tag is the key of the ``materials``
  dictionary of :class:`~spon.multiscale.RVEProblem`.
"""
import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import gmsh  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import ufl  # noqa: E402
from firedrake.pyplot import tripcolor, triplot  # noqa: E402

from spon.mesh import gmsh_mesh  # noqa: E402
from spon.mesh.rve import check_periodic_msh  # noqa: E402
from spon.multiscale import FE2Material, LinearElastic, Material, RVEProblem  # noqa: E402
from spon.multiscale.workflow import run_macro  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--h", type=float, default=0.06, help="RVE mesh size")
p.add_argument("--macro-h", type=float, default=16.0)
p.add_argument("--out", type=Path, default=Path("results/howto_rve"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)


# %%
# Mesh the RVE with gmsh
# ----------------------
# Two fibres of different sizes, cut by nothing (they lie inside the cell).
# The right and top edges are declared copies of the left and bottom edges.
def write_rve(path, periodic=True):
    gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    occ = gmsh.model.occ
    cell = occ.addRectangle(0, 0, 0, 1, 1)
    fibres = [occ.addDisk(0.3, 0.35, 0, 0.2, 0.2), occ.addDisk(0.72, 0.7, 0, 0.14, 0.14)]
    _, pieces = occ.fragment([(2, cell)], [(2, f) for f in fibres])
    occ.synchronize()
    fibre_tags = sorted(t for group in pieces[1:] for _, t in group)
    matrix_tags = sorted({t for _, t in pieces[0]} - set(fibre_tags))
    gmsh.model.addPhysicalGroup(2, matrix_tags, 1, "matrix")
    gmsh.model.addPhysicalGroup(2, fibre_tags, 2, "fibre")

    def edge(axis, value):
        box = [-1e-6, -1e-6, -1e-6, 1 + 1e-6, 1 + 1e-6, 1e-6]
        box[axis], box[axis + 3] = value - 1e-6, value + 1e-6
        return [t for _, t in gmsh.model.getEntitiesInBoundingBox(*box, dim=1)]

    left, right, bottom, top = edge(0, 0.0), edge(0, 1.0), edge(1, 0.0), edge(1, 1.0)
    for tag, curves in enumerate((left, right, bottom, top), start=1):
        gmsh.model.addPhysicalGroup(1, curves, tag)
    if periodic:
        gmsh.model.mesh.setPeriodic(1, right, left, [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])
        gmsh.model.mesh.setPeriodic(1, top, bottom, [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1])
    gmsh.option.setNumber("Mesh.MeshSizeMax", args.h)
    gmsh.model.mesh.generate(2)
    gmsh.option.setNumber("Mesh.MshFileVersion", 2.2)
    gmsh.write(str(path))
    gmsh.finalize()


write_rve(args.out / "my_rve.msh")
check_periodic_msh(args.out / "my_rve.msh")      # raises with the reason if the file is not periodic
mesh = fd.Mesh(str(args.out / "my_rve.msh"), name="my_rve")
print(f"RVE: {mesh.num_cells()} cells")

# %%
# A mesh without the periodic pairs is refused, with the reason:
write_rve(args.out / "not_periodic.msh", periodic=False)
try:
    check_periodic_msh(args.out / "not_periodic.msh")
except ValueError as err:
    print("ValueError:", str(err).replace(str(args.out) + os.sep, ""))


# %%
# Your material law
# -----------------
# A :class:`~spon.multiscale.Material` gives the stress as UFL (for the
# cell problem, whose Newton Jacobian UFL differentiates) and, optionally, as
# batched torch in Voigt notation (for surrogates). Here: a matrix whose shear
# stiffness stiffens with the deviatoric strain,
# :math:`\sigma = K\,\operatorname{tr}\varepsilon\, I + 2G\,(1 + c\,\|\operatorname{dev}\varepsilon\|^2)
# \operatorname{dev}\varepsilon`.
class StiffeningMatrix(Material):
    def __init__(self, K=4000.0, G=900.0, c=400.0):
        self.K, self.G, self.c = K, G, c

    def params(self):
        return {"K": self.K, "G": self.G, "c": self.c}

    def stress(self, eps):
        tr = ufl.tr(eps)
        dev = eps - tr / 3 * ufl.Identity(2)
        return self.K * tr * ufl.Identity(2) + 2 * self.G * (1 + self.c * ufl.inner(dev, dev)) * dev

    def stress_voigt(self, strain):
        exx, eyy, gxy = strain.unbind(-1)
        tr = exx + eyy
        dxx, dyy, dxy = exx - tr / 3, eyy - tr / 3, gxy / 2
        s = 2 * self.G * (1 + self.c * (dxx**2 + dyy**2 + 2 * dxy**2))
        return torch.stack([self.K * tr + s * dxx, self.K * tr + s * dyy, s * dxy], dim=-1)


# %%
# Homogenise
# ----------
# The ``materials`` keys are the physical surface tags of the file.
rve = RVEProblem(mesh, {1: StiffeningMatrix(), 2: LinearElastic(K=40000.0, G=30000.0)})
sol = rve.solve(np.array([0.01, 0.0, 0.01]))
print(f"σ̄ = {np.array2string(sol.stress, precision=2)} MPa after {sol.iterations} Newton iterations")
print("C̄ (MPa) =\n" + np.array2string(sol.tangent, formatter={"float_kind": lambda v: f"{v:9.1f}"}))

# %%
# FE² on Cook's membrane
# ----------------------
# :class:`~spon.multiscale.FE2Material` solves your cell problem at every macro
# quadrature point; any surrogate trained on this RVE (e.g. with
# :func:`~spon.multiscale.workflow.train_surrogates`) plugs in the same way.
macro = gmsh_mesh("cook_membrane", h=args.macro_h)
mp, hist, seconds = run_macro(macro, FE2Material(rve), [0.5], progress=False)
print(f"{mp.n_quadrature_points} macro quadrature points, {seconds:.0f} s: reaction {hist[-1].reaction:.3f} N/mm, "
      f"Newton residuals " + " ".join(f"{r:.0e}" for r in hist[-1].residuals))

fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
phase = fd.Function(fd.FunctionSpace(mesh, "DG", 0)).interpolate(rve.chi[2])
tripcolor(phase, axes=axes[0], cmap="Greys", vmin=0, vmax=2)
triplot(mesh, axes=axes[0], interior_kw={"linewidth": 0.2, "edgecolor": "tab:blue"})
axes[0].set_title("your RVE: fibre phase (periodic mesh)")
sxx = fd.Function(fd.FunctionSpace(macro, "DG", 0)).interpolate(mp.stress_output()[0])
fig.colorbar(tripcolor(sxx, axes=axes[1], cmap="coolwarm"), ax=axes[1])
axes[1].set_title("FE² macro σ̄_xx on Cook's membrane")
for ax in axes:
    ax.set_aspect("equal")
    ax.set_axis_off()

# %%
# The rest of the pipeline, and the command line
# ----------------------------------------------
# The same file and laws train both surrogates (snapshots, POD, EquiNO, the
# σ̄-MLP)::
#
#     from spon.multiscale.workflow import train_surrogates
#     S = train_surrogates("my_cell.msh", materials={1: StiffeningMatrix(), 2: LinearElastic(K=4e4, G=3e4)})
#     save_surrogate(S["equino"], "my_equino.pt")   # StiffeningMatrix is saved as module.Class
#
# and the command line runs FE² with them, or with the reference over two MPI
# ranks (one ``firedrake.Ensemble`` member each)::
#
#     spon fe2 --material reference --rve my_cell.msh --materials mats.json --nproc 2
#     spon fe2 --material surrogate --surrogate my_equino.pt
#
# with ``mats.json`` naming a class per physical surface, a spon law or an
# importable ``module.Class``:
# ``{"1": ["mylaws.StiffeningMatrix", {}], "2": ["LinearElastic", {"K": 40000, "G": 30000}]}``.
#
# To check that FE² with your cell predicts the heterogeneous structure,
# :func:`~spon.mesh.tile_rve_msh` tiles the cell's own mesh N × N times and
# :class:`~spon.multiscale.DNSProblem` solves that specimen with every
# inclusion resolved (``benchmarks/problems/dns.py`` does this for N up to 12).
