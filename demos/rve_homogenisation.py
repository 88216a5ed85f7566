r"""
Periodic RVE homogenisation with a consistent tangent
=====================================================

The micro scale of FE². On a periodic representative volume element (RVE)
:math:`Y`, a macro strain :math:`\bar\varepsilon` drives the micro
displacement

.. math::

    u(x) = \bar\varepsilon\, x + \tilde u(x), \qquad \tilde u \ \text{periodic on } Y,\quad
    \langle \tilde u \rangle = 0,

and Newton's method solves the cell problem

.. math::

    \int_Y \sigma\big(\bar\varepsilon + \varepsilon(\tilde u)\big) : \varepsilon(v)\,dx = 0
    \qquad \text{for all periodic } v .

The mesh is periodic (matching nodes on opposite edges, glued by Firedrake),
so the CG space is periodic by construction. The homogenised stress is the
volume average :math:`\bar\sigma = \langle \sigma \rangle`, and the consistent
tangent :math:`\bar C = \partial\bar\sigma / \partial\bar\varepsilon` comes
from three linearised cell problems that share one factorisation:

.. math::

    \bar C_{:k} = \big\langle C_t : (E_k + \varepsilon(\delta\tilde u_k)) \big\rangle, \qquad
    J\,\delta\tilde u_k = -\int_Y (C_t : E_k) : \varepsilon(v)\,dx .

We check it against central differences for the three RVEs of EquiNO:
central and corner fibres (≈ 55 %), an inclined ellipse (≈ 19 %) and three
circles (≈ 13 %), with a nonlinear elastic matrix and linear elastic fibres.

Run as a script: ``python demos/rve_homogenisation.py`` (under a minute).
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
from firedrake.output import VTKFile  # noqa: E402
from firedrake.pyplot import tripcolor  # noqa: E402

from spon.mesh import RVE_KINDS, rve_mesh  # noqa: E402
from spon.multiscale import RVEProblem, equino_materials  # noqa: E402

p = argparse.ArgumentParser(description="Periodic homogenisation of the three EquiNO-like RVEs")
p.add_argument("--h", type=float, default=0.04)
p.add_argument("--strain", type=float, nargs=3, default=[0.02, -0.01, 0.03],
               help="macro strain (eps_xx, eps_yy, gamma_xy)")
p.add_argument("--out", type=Path, default=Path("results/rve_homogenisation"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
E = np.array(args.strain)
print(f"macro strain (Voigt, engineering shear): {E.tolist()}")

# %%
# Solve, homogenise, check the tangent
# ------------------------------------
# :func:`~spon.mesh.rve_mesh` meshes each RVE with gmsh (periodic node pairs)
# and :class:`~spon.multiscale.RVEProblem` solves its cell problem. Newton
# converges quadratically (see ``residuals`` in ``rve.json``); the fluctuation
# is periodic and the stress concentrates between the fibres.
fig, ax = plt.subplots(2, 3, figsize=(13, 8))
report = {}
for j, kind in enumerate(RVE_KINDS):
    rve = RVEProblem(rve_mesh(kind, h=args.h), equino_materials())
    sol = rve.solve(E)
    h, Cfd = 1e-6, np.zeros((3, 3))
    for k in range(3):
        d = np.eye(3)[k] * h
        Cfd[:, k] = (rve.solve(E + d, tangent=False).stress - rve.solve(E - d, tangent=False).stress) / (2 * h)
    fd_err = float(np.abs(Cfd - sol.tangent).max() / np.abs(sol.tangent).max())
    fibre = fd.assemble(rve.chi[2] * fd.dx(domain=rve.mesh)) / rve.volume
    report[kind] = {"fibre_fraction": fibre, "dofs": rve.V.dim(), "newton_iterations": sol.iterations,
                    "residuals": sol.residuals, "stress": sol.stress.tolist(),
                    "tangent": sol.tangent.tolist(), "tangent_vs_central_differences": fd_err}
    print(f"{kind:14s} fibre {fibre:.3f}  DOFs {rve.V.dim()}  Newton {sol.iterations} its  "
          f"σ̄ = {np.array2string(sol.stress, precision=2)}  |C̄ − C̄_FD|/|C̄| = {fd_err:.1e}")
    sig = rve.stress_field(sol)
    mag = fd.Function(fd.FunctionSpace(rve.mesh, "CG", rve.degree), name="|u~|").interpolate(
        fd.sqrt(fd.inner(sol.fluctuation, sol.fluctuation)))
    sxx = fd.Function(fd.FunctionSpace(rve.mesh, "DG", rve.degree - 1), name="sigma_xx").interpolate(sig[0])
    for i, (f, title) in enumerate(((mag, "|ũ| (fluctuation)"), (sxx, "σ_xx (MPa)"))):
        c = tripcolor(f, axes=ax[i, j], cmap="viridis" if i == 0 else "coolwarm")
        ax[i, j].set_title(f"{kind}: {title}")
        ax[i, j].set_aspect("equal")
        fig.colorbar(c, ax=ax[i, j], shrink=0.8)
    VTKFile(str(args.out / f"{kind}.pvd")).write(sol.fluctuation, sig)
fig.suptitle(f"ε̄ = {E.tolist()}")
fig.tight_layout()
fig.savefig(args.out / "rve_fields.png", dpi=120)
(args.out / "rve.json").write_text(json.dumps(report, indent=1))
print("wrote rve_fields.png, one .pvd per RVE and rve.json to the output folder")
