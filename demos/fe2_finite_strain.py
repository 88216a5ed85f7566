r"""
FE² at finite strain: Cook's membrane at large deflection
=========================================================

The small-strain tutorial (:doc:`fe2_cook`) stops where rubber and soft composites
start. Here the fibre RVE has a soft Mooney–Rivlin matrix and stiff neo-Hookean
fibres, the macro problem is total Lagrangian, and Cook's membrane bends until its
tip has moved a fifth of its height.

**The cell problem.** For a macro deformation gradient :math:`\bar F`, the displacement
is :math:`u = (\bar F - I) X + w` with :math:`w` periodic, and

.. math::

    \int_Y P(\bar F + \nabla w) : \nabla v \, dX = 0 \quad \text{for all periodic } v,
    \qquad \bar P = \langle P \rangle,\quad \bar{\mathbb A} = \frac{\partial \bar P}{\partial \bar F}.

:class:`~spon.multiscale.FiniteStrainRVEProblem` solves it by Newton's method and
returns :math:`\bar P` and the consistent tangent from the linearised cell problems.

**Objectivity by construction.** With :math:`\bar F = \bar R \bar U`, the response
satisfies :math:`\bar P(\bar F) = \bar R\, \bar P(\bar U)`. The finite-strain EquiNO
(:class:`~spon.multiscale.stretch_equino.StretchEquiNO`) learns :math:`\bar P(\bar U)`
on the three components of :math:`\bar U - I` and rotates the answer, so
:math:`\bar P(Q\bar F) = Q \bar P(\bar F)` holds to round-off for any rotation
:math:`Q`. Its fluctuation is a sum of periodic POD modes and its stress a sum of
equilibrated POD modes; it trains on the constitutive mismatch alone, no stress labels.

**The macro problem.** :class:`~spon.multiscale.total_lagrangian.FiniteStrainMacroProblem`
keeps :math:`\bar P` and :math:`\bar{\mathbb A}` at its quadrature points and solves

.. math::

    \int_\Omega \bar P : \nabla v\, dX = 0, \qquad
    \int_\Omega (\bar{\mathbb A} : \nabla \delta u) : \nabla v \, dX = -\int_\Omega \bar P : \nabla v\, dX .

Run as a script: ``python demos/fe2_finite_strain.py`` (about 10 minutes).
"""

# %%
# Settings
# --------
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
import numpy as np  # noqa: E402
import torch  # noqa: E402
from firedrake.output import VTKFile  # noqa: E402
from firedrake.pyplot import tripcolor, triplot  # noqa: E402

from spon.mesh import gmsh_mesh, rve_mesh  # noqa: E402
from spon.multiscale import FiniteStrainRVEProblem, MooneyRivlin, NeoHookean  # noqa: E402
from spon.multiscale.finite_workflow import (finite_strain_data, frame_indifference_error,  # noqa: E402
                                             stress_errors, train_equino_validated)
from spon.multiscale.total_lagrangian import (FiniteStrainFE2Material, FiniteStrainMacroProblem,  # noqa: E402
                                              StretchSurrogateMaterial)

p = argparse.ArgumentParser(description="finite-strain FE2 on Cook's membrane: EquiNO against reference FE2")
p.add_argument("--rve-h", type=float, default=0.1)
p.add_argument("--macro-h", type=float, default=12.0)
p.add_argument("--displacement", type=float, default=10.0)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--n-train", type=int, default=100)
p.add_argument("--adam", type=int, default=1000)
p.add_argument("--lbfgs", type=int, default=800)
p.add_argument("--out", type=Path, default=Path("results/fe2_finite_strain"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)

# %%
# The cell and its snapshots
# --------------------------
# Phase 1 is the matrix, phase 2 the fibres (the RVE's physical surfaces). The
# snapshots are cell solutions at stretches with components of :math:`\bar U - I`
# in :math:`[-0.2, 0.2]` and principal stretches at least 0.85 (harder compression
# buckles the matrix ligaments between the fibres: the cell problem has no unique
# solution there). The held-out deformations are *rotated* stretches, each solved directly.
phases = {1: MooneyRivlin(150.0, 58.5, 4500.0), 2: NeoHookean(29918.0, 23507.0)}
rve = FiniteStrainRVEProblem(rve_mesh("fibre", h=args.rve_h), phases)
data = finite_strain_data(rve, n_train=args.n_train, n_val=max(4, args.n_train // 5), n_test=max(4, args.n_train // 4))
print(f"{rve.dofs} micro DOFs, {len(data.quad.weights)} quadrature points")

# %%
# EquiNO at finite strain
# -----------------------
# Trained on the constitutive loss only; the checkpoint is chosen on the validation stretches.
model, info = train_equino_validated(data, phases, adam=args.adam, lbfgs=args.lbfgs)
err = stress_errors(model, data.test_F, data.test_P, data.test_A)
frame = frame_indifference_error(model, data.test_F)
print(f"held-out P̄ error: median {err['P_bar']['median']:.2%}, mean {err['P_bar']['mean']:.2%}; "
      f"frame indifference {frame:.1e}; trained {info['seconds']:.0f} s")

# %%
# Reference FE² and EquiNO FE² on one load path
# ---------------------------------------------
mesh = gmsh_mesh("cook_membrane", h=args.macro_h)
path = np.linspace(0, args.displacement, args.steps + 1)[1:]
runs = {}
for name, mat in (("EquiNO", StretchSurrogateMaterial(model)), ("reference", FiniteStrainFE2Material(rve))):
    mp = FiniteStrainMacroProblem(mesh, mat)
    mp.solve(path)
    runs[name] = (mp, mat.stats())
    print(f"{name:9s} reactions {[round(s.reaction, 1) for s in mp.history]}")
(me, se), (mr, sr) = runs["EquiNO"], runs["reference"]
rel = [abs(a.reaction - b.reaction) / abs(b.reaction) for a, b in zip(me.history, mr.history)]
speedup = (sr["material_seconds"] / sr["micro_solves"] * mr.n_quadrature_points) / (
    se["material_seconds"] / se["material_calls"])
print(f"reaction error per step {np.round(rel, 4).tolist()}; speed-up per Newton iteration {speedup:.0f}x")
(args.out / "fe2_finite_strain.json").write_text(json.dumps(
    {"reaction_rel_err": rel, "speedup_per_newton_iteration": speedup, "held_out": err,
     "frame_indifference_error": frame, "micro_dofs": rve.dofs}, indent=1))

# %%
# The deformed membrane and the reaction curve
# --------------------------------------------
fig, ax = plt.subplots(1, 3, figsize=(15, 4.5))
deformed = fd.Mesh(fd.Function(mesh.coordinates.function_space()).interpolate(mesh.coordinates + mr.u))
triplot(mesh, axes=ax[0], interior_kw={"linewidths": 0.3, "edgecolors": "0.75"}, boundary_kw={"colors": "0.75"})
triplot(deformed, axes=ax[0], interior_kw={"linewidths": 0.4}, boundary_kw={"colors": "k"})
ax[0].set_aspect("equal")
ax[0].set_title(f"reference FE², tip displacement {path[-1]:g} mm")
ax[1].plot([0, *path], [0, *[s.reaction for s in mr.history]], "k-o", label="reference FE²")
ax[1].plot([0, *path], [0, *[s.reaction for s in me.history]], "r--s", label="EquiNO FE²")
ax[1].set_xlabel("edge displacement (mm)")
ax[1].set_ylabel("reaction")
ax[1].legend()
P = mr.stress_output()
c = tripcolor(fd.Function(fd.FunctionSpace(mesh, "DG", 0)).interpolate(P[0, 0]), axes=ax[2], cmap="coolwarm")
ax[2].set_title("reference $\\bar P_{xx}$ (reference configuration)")
ax[2].set_aspect("equal")
fig.colorbar(c, ax=ax[2])
fig.tight_layout()
fig.savefig(args.out / "fe2_finite_strain.png", dpi=120)
VTKFile(str(args.out / "cook_finite_strain.pvd")).write(mr.u, P)
print("wrote fe2_finite_strain.png, cook_finite_strain.pvd and fe2_finite_strain.json")
