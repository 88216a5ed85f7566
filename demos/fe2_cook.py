r"""
FE² on Cook's membrane: surrogate against reference
===================================================

The flagship multiscale use. The macro problem is plane-strain equilibrium on
Cook's membrane, clamped on the left and pulled up on the right by a
prescribed displacement:

.. math::

    \int_\Omega \bar\sigma\big(\varepsilon(u)\big) : \varepsilon(v)\,dx = 0
    \qquad \text{for all } v \text{ with } v = 0 \text{ on the Dirichlet boundary.}

There is no macro material law: at every quadrature point, the material is
the homogenised response of the fibre RVE. Newton's method on the macro
problem needs :math:`\bar\sigma` and the consistent tangent :math:`\bar C`
there, at every iteration:

.. math::

    \int_\Omega \bar C\, \varepsilon(\delta u) : \varepsilon(v)\,dx
    = -\int_\Omega \bar\sigma : \varepsilon(v)\,dx .

:class:`~spon.multiscale.macro.MacroProblem` keeps :math:`\bar\sigma` and
:math:`\bar C` as Functions on quadrature spaces and asks a pluggable material
for them:

* the **reference FE² material** solves one periodic cell problem per point
  per Newton iteration (the :doc:`rve_homogenisation` tutorial);
* the **surrogate material** answers all points in one batched torch call
  (the EquiNO surrogate of the :doc:`equino_training` tutorial).

Because both return a consistent :math:`\bar C`, Newton converges
quadratically with either.

Run as a script: ``python demos/fe2_cook.py`` (a few minutes).
"""

# %%
# Settings
# --------
# The command line sets the sizes; the defaults are the full run, and the docs
# build uses small ones (``doc/gallery_settings.py``).
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
from firedrake.pyplot import tripcolor  # noqa: E402

from spon.mesh import gmsh_mesh, rve_mesh  # noqa: E402
from spon.multiscale import RVEProblem, equino_materials  # noqa: E402
from spon.multiscale import load_surrogate, save_surrogate  # noqa: E402
from spon.multiscale.macro import FE2Material, SurrogateMaterial  # noqa: E402
from spon.multiscale.workflow import run_macro, stress_field_rel_l2, train_surrogates  # noqa: E402

p = argparse.ArgumentParser(description="FE2 on Cook's membrane: EquiNO against reference FE2")
p.add_argument("--surrogate", type=Path, default=None, help="an EquiNO/MLP checkpoint (default: train one)")
p.add_argument("--rve-h", type=float, default=0.05)
p.add_argument("--macro-h", type=float, default=12.0)
p.add_argument("--displacement", type=float, default=2.0)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--adam", type=int, default=1000)
p.add_argument("--lbfgs", type=int, default=300)
p.add_argument("--out", type=Path, default=Path("results/fe2_cook"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)

# %%
# The surrogate
# -------------
# Loaded from a checkpoint if given (e.g. ``results/equino/equino.pt``),
# otherwise trained here with :func:`~spon.multiscale.workflow.train_surrogates`.
if args.surrogate:
    model = load_surrogate(args.surrogate)
    rve_meta = model.meta.get("rve", {"kind": "fibre", "h": args.rve_h, "degree": 2})
    rve = RVEProblem(rve_mesh(rve_meta["kind"], h=rve_meta["h"]), equino_materials(), degree=rve_meta["degree"])
else:
    S = train_surrogates("fibre", h=args.rve_h, adam_steps=args.adam, lbfgs_steps=args.lbfgs, mlp=False)
    model, rve = S["equino"], S["rve"]
    save_surrogate(model, args.out / "equino.pt")

# %%
# Two FE² runs on the same load path
# ----------------------------------
mesh = gmsh_mesh("cook_membrane", h=args.macro_h)
path = np.linspace(0, args.displacement, args.steps + 1)[1:]
runs = {}
for name, mat in (("surrogate", SurrogateMaterial(model)), ("reference", FE2Material(rve, progress=True))):
    mp, hist, secs = run_macro(mesh, mat, path)
    runs[name] = (mp, hist, secs, mat.stats())
    print(f"{name:9s} {secs:8.2f} s  reactions {[round(s.reaction, 3) for s in hist]}")
    for s in hist:
        print(f"    u = {s.displacement:.2f} mm: Newton residuals " + " ".join(f"{r:.1e}" for r in s.residuals))

# %%
# Agreement and speed
# -------------------
(ms, hs, ts, _), (mr, hr, tr, st) = runs["surrogate"], runs["reference"]
rel = max(abs(x.reaction - y.reaction) / abs(y.reaction) for x, y in zip(hs, hr))
sl2 = stress_field_rel_l2(ms.stress, mr.stress, mr.dx)
print(f"{mr.n_quadrature_points} quadrature points, {rve.V.dim()} micro DOFs, {st['micro_solves']} micro solves")
print(f"reaction rel. error {rel:.2e}, σ̄ field rel. L² {sl2:.2e}, whole-solve speed-up {tr / ts:.0f}x")
(args.out / "fe2_cook.json").write_text(json.dumps(
    {"reaction_rel_err": rel, "stress_field_rel_l2": sl2, "speedup_whole_solve": tr / ts,
     "surrogate_seconds": ts, "reference_seconds": tr, **st}, indent=1))

fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
ax[0].plot([0, *path], [0, *[s.reaction for s in hr]], "k-o", label="reference FE²")
ax[0].plot([0, *path], [0, *[s.reaction for s in hs]], "r--s", label="EquiNO FE²")
ax[0].set_xlabel("edge displacement (mm)")
ax[0].set_ylabel("reaction (N/mm)")
ax[0].legend()
fr, fs = mr.stress_output(), ms.stress_output()
for i, (f, t) in enumerate(((fr, "reference σ̄_xx"), (fs, "EquiNO σ̄_xx"))):
    c = tripcolor(fd.Function(fd.FunctionSpace(mesh, "DG", 0)).interpolate(f[0]), axes=ax[i + 1], cmap="coolwarm")
    ax[i + 1].set_title(t)
    ax[i + 1].set_aspect("equal")
    fig.colorbar(c, ax=ax[i + 1])
fig.tight_layout()
fig.savefig(args.out / "fe2_cook.png", dpi=120)
VTKFile(str(args.out / "cook.pvd")).write(mr.u, fr)
print("wrote fe2_cook.png, cook.pvd and fe2_cook.json to the output folder")
