r"""
EquiNO: a physics-informed RVE surrogate
========================================

An FE² computation asks the micro scale for :math:`\bar\sigma(\bar\varepsilon)`
and :math:`\bar C(\bar\varepsilon)` at every macro quadrature point and Newton
iteration. EquiNO (Eivazi et al., arXiv 2504.07976) replaces the cell problem
by an operator that is equilibrated *by construction* and trained without
stress labels.

**Bases from FE snapshots.** Cell problems at Latin-hypercube strains
:math:`\bar\varepsilon \in [-0.04, 0.04]^3` give POD bases kept as FE data:
periodic fluctuation modes :math:`\phi_i` (CG on the periodic RVE) and stress
modes :math:`\psi_j` (quadrature Functions; each is a converged micro stress,
so it is weakly equilibrated). A network maps :math:`\bar\varepsilon` to the
coefficients:

.. math::

    \tilde u = \sum_i a_i(\bar\varepsilon)\,\phi_i, \qquad
    \sigma = \sum_j b_j(\bar\varepsilon)\,\psi_j, \qquad
    \bar\sigma = \sum_j b_j(\bar\varepsilon) \langle\psi_j\rangle .

**Constitutive loss.** At every quadrature point :math:`x_q` of the RVE, the
predicted stress must be what the material law gives for the predicted strain:

.. math::

    L(\theta) = \Big\langle \big\| \sigma_\theta(x_q) -
    \hat\sigma\big(\bar\varepsilon + \varepsilon(\tilde u_\theta)(x_q)\big) \big\|^2 \Big\rangle,

with no stress labels. The tangent :math:`\bar C` comes from autodiff.

We print the per-field relative :math:`L^2` errors on held-out strains next to
EquiNO's published figures and next to a data-driven :math:`\bar\sigma`-MLP
baseline (trained on the same snapshots' :math:`\bar\sigma` and :math:`\bar C`,
with cross-validated width and depth).

Run as a script: ``python demos/equino_training.py`` (a few minutes;
``--adam``/``--lbfgs`` trade time for accuracy).
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

from spon.multiscale import save_surrogate  # noqa: E402
from spon.multiscale.workflow import train_surrogates  # noqa: E402

PUBLISHED = {"u_x": None, "u_y": None, "sigma_xx": "0.6-1.5 %", "sigma_yy": "0.6-1.5 %", "sigma_xy": "5-6 %"}

p = argparse.ArgumentParser(description="EquiNO: a physics-informed RVE surrogate")
p.add_argument("--kind", default="fibre")
p.add_argument("--h", type=float, default=0.05)
p.add_argument("--train", type=int, default=100)
p.add_argument("--test", type=int, default=50)
p.add_argument("--adam", type=int, default=1000)
p.add_argument("--lbfgs", type=int, default=1000)
p.add_argument("--mlp-steps", type=int, default=3000, help="σ̄-MLP baseline: Adam steps per fit")
p.add_argument("--mlp-lbfgs", type=int, default=1000, help="σ̄-MLP baseline: L-BFGS iterations per fit")
p.add_argument("--mlp-folds", type=int, default=4, help="σ̄-MLP baseline: cross-validation folds")
p.add_argument("--out", type=Path, default=Path("results/equino"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)

# %%
# Snapshots, bases, training
# --------------------------
# :func:`~spon.multiscale.workflow.train_surrogates` runs the whole pipeline:
# FE snapshots, POD, EquiNO's constitutive training (Adam, then L-BFGS) and
# the :math:`\bar\sigma`-MLP baseline.
S = train_surrogates(args.kind, h=args.h, n_train=args.train, n_test=args.test, adam_steps=args.adam,
                     lbfgs_steps=args.lbfgs, mlp_steps=args.mlp_steps, mlp_lbfgs_steps=args.mlp_lbfgs,
                     mlp_folds=args.mlp_folds)
eq, mlp = S["errors"]["equino"], S["errors"]["mlp"]
print(f"POD modes: {S['modes']['u']} fluctuation, {S['modes']['stress']} stress; "
      f"final constitutive loss {S['loss_history'][-1]:.2e}")

# %%
# Held-out errors
# ---------------
print(f"{'field':10s} {'EquiNO (spon)':>14s} {'published':>12s} {'σ̄-MLP':>8s}")
for k in ("u_x", "u_y", "sigma_xx", "sigma_yy", "sigma_xy", "sigma_bar", "tangent"):
    print(f"{k:10s} {100 * eq[k]:13.2f}% {PUBLISHED.get(k) or '-':>12s} "
          f"{(f'{100 * mlp[k]:.2f}%' if k in mlp else '-'):>8s}")

# %%
# Save the surrogates
# -------------------
# Each file holds the weights, the FE bases and the metadata needed to rebuild
# the surrogate (:func:`~spon.multiscale.load_surrogate`).
save_surrogate(S["equino"], args.out / "equino.pt")
save_surrogate(S["mlp"], args.out / "sigma_mlp.pt")
(args.out / "errors.json").write_text(json.dumps({**S["errors"], "modes": S["modes"], "published": PUBLISHED,
                                                  "seconds": S["seconds"]}, indent=1))

# %%
# The loss, and a held-out micro stress field
# -------------------------------------------
# The held-out strain of largest magnitude: FE :math:`\sigma_{xx}` against EquiNO's.
rve, quad, test, model = S["rve"], S["quadrature"], S["test"], S["equino"]
i = int(np.argmax(np.abs(test.strain).sum(1)))
E = torch.as_tensor(test.strain[i:i + 1])
with torch.no_grad():
    _, s_pred = model.fields(E)
    u_pred = model.fluctuation_dofs(E)[0].numpy()
DG = fd.FunctionSpace(rve.mesh, "DG", rve.degree - 1)
fe = fd.Function(quad.Q)
fe.dat.data[:] = test.stress_q[i][:, 0]
pr = fd.Function(quad.Q)
pr.dat.data[:] = s_pred[0, :, 0].numpy()
f_fe = fd.Function(DG, name="FE sigma_xx").project(fe)
f_pr = fd.Function(DG, name="EquiNO sigma_xx").project(pr)
fig, ax = plt.subplots(2, 2, figsize=(11, 9))
ax = ax.ravel()
ax[0].semilogy(S["loss_history"])
ax[0].set_title("constitutive loss (Adam, then L-BFGS)")
ax[0].set_xlabel("step / evaluation")
for j, (f, t) in enumerate(((f_fe, "FE σ_xx"), (f_pr, "EquiNO σ_xx"))):
    c = tripcolor(f, axes=ax[j + 1], cmap="coolwarm")
    ax[j + 1].set_title(f"{t}, ε̄ = {np.round(test.strain[i], 3).tolist()}")
    ax[j + 1].set_aspect("equal")
    fig.colorbar(c, ax=ax[j + 1])
err = fd.Function(DG, name="error").assign(f_pr - f_fe)
c = tripcolor(err, axes=ax[3], cmap="coolwarm")
ax[3].set_title("EquiNO − FE")
ax[3].set_aspect("equal")
fig.colorbar(c, ax=ax[3])
fig.tight_layout()
fig.savefig(args.out / "equino.png", dpi=120)
u = fd.Function(rve.V, name="EquiNO fluctuation")
u.dat.data[:] = u_pred
ufe = fd.Function(rve.V, name="FE fluctuation")
ufe.dat.data[:] = test.u[i]
VTKFile(str(args.out / "equino.pvd")).write(u, ufe, f_fe, f_pr)
print("wrote equino.png, equino.pvd, errors.json, equino.pt and sigma_mlp.pt to the output folder")
