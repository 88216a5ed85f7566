"""EquiNO: a physics-informed surrogate of the fibre RVE, trained without stress labels.

Micro snapshots at Latin-hypercube strains in [-0.04, 0.04]³ give POD bases kept
as FE data: periodic fluctuation modes (CG on the periodic RVE) and
equilibrated stress modes (quadrature Functions). A network maps ε̄ to the
mode coefficients; its loss is constitutive consistency only. The script prints
the per-field relative L² errors on held-out strains next to EquiNO's published
figures and next to a data-driven σ̄-MLP baseline, plots the loss, a predicted
field against the FE field, and saves the surrogate (rebuildable from its file).

Run: ``python demos/equino_training.py`` (a few minutes; ``--adam``/``--lbfgs`` trade time for accuracy).
"""
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    S = train_surrogates(a.kind, h=a.h, n_train=a.train, n_test=a.test, adam_steps=a.adam, lbfgs_steps=a.lbfgs,
                         mlp_steps=a.mlp_steps, mlp_lbfgs_steps=a.mlp_lbfgs, mlp_folds=a.mlp_folds)
    eq, mlp = S["errors"]["equino"], S["errors"]["mlp"]
    print(f"\nPOD modes: {S['modes']['u']} fluctuation, {S['modes']['stress']} stress; "
          f"final constitutive loss {S['loss_history'][-1]:.2e}")
    print(f"{'field':10s} {'EquiNO (spon)':>14s} {'published':>12s} {'σ̄-MLP':>8s}")
    for k in ("u_x", "u_y", "sigma_xx", "sigma_yy", "sigma_xy", "sigma_bar", "tangent"):
        print(f"{k:10s} {100 * eq[k]:13.2f}% {PUBLISHED.get(k) or '-':>12s} "
              f"{(f'{100 * mlp[k]:.2f}%' if k in mlp else '-'):>8s}")
    save_surrogate(S["equino"], a.out / "equino.pt")
    save_surrogate(S["mlp"], a.out / "sigma_mlp.pt")
    (a.out / "errors.json").write_text(json.dumps({**S["errors"], "modes": S["modes"], "published": PUBLISHED,
                                                   "seconds": S["seconds"]}, indent=1))

    # figures: loss, and one held-out sample (σ_xx): FE vs EquiNO
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
    fig, ax = plt.subplots(1, 4, figsize=(19, 4.2))
    ax[0].semilogy(S["loss_history"])
    ax[0].set_title("constitutive loss (Adam, then L-BFGS)"), ax[0].set_xlabel("step / evaluation")
    for j, (f, t) in enumerate(((f_fe, "FE σ_xx"), (f_pr, "EquiNO σ_xx"))):
        c = tripcolor(f, axes=ax[j + 1], cmap="coolwarm")
        ax[j + 1].set_title(f"{t}, ε̄ = {np.round(test.strain[i], 3).tolist()}"), ax[j + 1].set_aspect("equal")
        fig.colorbar(c, ax=ax[j + 1])
    err = fd.Function(DG, name="error").assign(f_pr - f_fe)
    c = tripcolor(err, axes=ax[3], cmap="coolwarm")
    ax[3].set_title("EquiNO − FE"), ax[3].set_aspect("equal")
    fig.colorbar(c, ax=ax[3])
    fig.tight_layout()
    fig.savefig(a.out / "equino.png", dpi=120)
    u = fd.Function(rve.V, name="EquiNO fluctuation")
    u.dat.data[:] = u_pred
    ufe = fd.Function(rve.V, name="FE fluctuation")
    ufe.dat.data[:] = test.u[i]
    VTKFile(str(a.out / "equino.pvd")).write(u, ufe, f_fe, f_pr)
    print(f"figures, .pvd, errors.json and the checkpoints in {a.out}/")
    return S


if __name__ == "__main__":
    main()
