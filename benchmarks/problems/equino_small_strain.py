"""EquiNO where FE² starts: which choices move the small-strain error, on one RVE, side by side.

Trains EquiNO (same snapshots, seed, Adam + L-BFGS budget) four ways, the
2 × 2 of coefficient form (``offset``: c = N(x) − N(0); ``secant``: c = G(x) x)
and POD (plain; with the linear-regime anchors at 1e-4 e_i), and reports for each:

* held-out σ̄ errors on a Latin hypercube over the box and on one over
  [-0.0075, 0.0075]³ (small strains), with the mean signed bias
  ``(σ̄ − σ̄*)·σ̄* / |σ̄*|²``;
* the macro reaction error against reference FE² on Cook's membrane for the
  first two load steps (0.5 and 1 mm, where the strains are smallest);
* the floor of each mode set: the σ̄ error with the best coefficients for every
  test strain (the constitutive loss minimised per strain by L-BFGS, no
  network). It separates what the modes can represent from what the network fits.

Writes ``benchmarks/results/equino_small_strain.json``.

    python -m benchmarks run equino_small_strain            # about 45 min on one core (h = 0.1, 3 seeds)
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from spon.atomic import atomic_write_json  # noqa: E402
from spon.mesh import gmsh_mesh  # noqa: E402
from spon.multiscale import EquiNO, fit_equino  # noqa: E402
from spon.multiscale.macro import FE2Material, SurrogateMaterial  # noqa: E402
from spon.multiscale.metrics import field_errors  # noqa: E402
from spon.multiscale.snapshots import RVEQuadrature, collect_snapshots, latin_hypercube  # noqa: E402
from spon.multiscale.workflow import rve_problem, run_macro, small_strain_sampling  # noqa: E402

HERE = Path(__file__).resolve().parents[1]   # benchmarks/


def bias(model, snaps):
    with torch.no_grad():
        s = model.homogenised_stress(torch.as_tensor(snaps.strain)).numpy()
    S = snaps.stress
    return float(np.mean(((s - S) * S).sum(1) / (S * S).sum(1)))


def floor(model, snaps):
    """σ̄ error with the best (a, b) per strain: the mode set's own limit."""
    E = torch.as_tensor(snaps.strain)
    cs = model.coef_scale
    A = torch.zeros(len(E), model.n_u, dtype=torch.float64, requires_grad=True)
    B = torch.zeros(len(E), model.n_sigma, dtype=torch.float64, requires_grad=True)
    model.coefficients = lambda E_: (A * cs[:model.n_u], B * cs[model.n_u:])    # this instance only
    opt = torch.optim.LBFGS([A, B], lr=1, max_iter=3000, tolerance_grad=1e-14, tolerance_change=1e-18,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = model.constitutive_loss(E).sum()
        loss.backward()
        return loss

    opt.step(closure)
    del model.coefficients
    with torch.no_grad():
        s = ((B * cs[model.n_u:]) @ model.stress_mean_modes).numpy()
    err = np.linalg.norm(s - snaps.stress, axis=1) / np.linalg.norm(snaps.stress, axis=1)
    return {"mean": float(err.mean()), "max": float(err.max())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rve-h", type=float, default=0.1)
    p.add_argument("--adam", type=int, default=1000)
    p.add_argument("--lbfgs", type=int, default=1000)
    p.add_argument("--seeds", type=int, default=3, help="network seeds per variant (same snapshots)")
    p.add_argument("--n-train", type=int, default=100, help="training snapshots")
    p.add_argument("--n-test", type=int, default=100, help="test snapshots over the box")
    p.add_argument("--n-small", type=int, default=50, help="test snapshots at small strains")
    p.add_argument("--macro-h", type=float, default=8.0, help="gmsh size of Cook's membrane")
    p.add_argument("--load-path", default="0.5,1.0", help="Cook's edge displacements (mm) of the first steps")
    p.add_argument("--out", type=Path, default=HERE / "results" / "equino_small_strain.json")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t_all = time.perf_counter()
    rve, info = rve_problem("fibre", h=a.rve_h)
    quad = RVEQuadrature(rve)
    train = collect_snapshots(rve, small_strain_sampling(latin_hypercube(a.n_train, 0.04, seed=0), 0.25, seed=0), quad)
    test = collect_snapshots(rve, latin_hypercube(a.n_test, 0.04, seed=1000), quad)
    small = collect_snapshots(rve, latin_hypercube(a.n_small, 0.0075, seed=3000), quad)
    anchors = collect_snapshots(rve, 1e-4 * np.eye(3), quad)
    mesh = gmsh_mesh("cook_membrane", h=a.macro_h)
    path = [float(x) for x in a.load_path.split(",")]
    _, hist, secs = run_macro(mesh, FE2Material(rve, progress=True), path)
    ref = [s.reaction for s in hist]
    out = {"machine": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
           "threads": 1, "rve": {**info, "micro_dofs": rve.V.dim(), "quadrature_points": len(quad.weights)},
           "snapshots": {"train": a.n_train, "test_box": a.n_test, "test_small": a.n_small, "small_box": 0.0075, "box": 0.04},
           "training": {"adam": a.adam, "lbfgs": a.lbfgs, "collocation": 256, "seeds": list(range(a.seeds))},
           "macro": {"mesh": "cook_membrane", "h": a.macro_h, "load_path_mm": path, "reference_reaction": ref,
                     "reference_seconds": secs},
           "basis": "sigma_bar: mean relative error over the test strains; reaction_rel_err: |R - R_ref| / |R_ref| "
                    "per load step; floor: sigma_bar error with per-strain optimal coefficients (the mode set's, "
                    "same for every seed); summary: mean and std over the seeds",
           "variants": {}}
    floors = {}    # the floor depends on the modes only: one per POD, whatever the form
    for form in ("offset", "secant"):
        for anchored in (False, True):
            name = f"{form}{'_anchors' if anchored else ''}"
            runs = []
            for seed in range(a.seeds):
                m = EquiNO.from_snapshots(train, quad, rve.materials, tol=1e-6, seed=seed, form=form,
                                          anchors=anchors if anchored else None)
                t0 = time.perf_counter()
                fit_equino(m, steps=a.adam, collocation=256, seed=seed)
                fit_equino(m, steps=0, lbfgs_steps=a.lbfgs, collocation=256, seed=seed)
                t_train = time.perf_counter() - t0
                _, hist, _ = run_macro(mesh, SurrogateMaterial(m), path, progress=False)
                runs.append({"seed": seed, "training_seconds": t_train,
                             "sigma_bar_box": field_errors(m, test, quad)["sigma_bar"],
                             "sigma_bar_small": field_errors(m, small, quad)["sigma_bar"],
                             "bias_box": bias(m, test), "bias_small": bias(m, small),
                             "reaction_rel_err": [abs(s.reaction - r) / abs(r) for s, r in zip(hist, ref)]})
                print(name, runs[-1], flush=True)
            summary = {}
            for k in ("sigma_bar_box", "sigma_bar_small", "bias_box", "bias_small"):
                v = np.array([r[k] for r in runs])
                summary[k] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
            R = np.array([r["reaction_rel_err"] for r in runs])
            summary["reaction_rel_err"] = {"mean": R.mean(0).tolist(),
                                           "std": R.std(0, ddof=1).tolist() if len(R) > 1 else [0.0] * len(path)}
            out["variants"][name] = {"modes": {"u": m.n_u, "stress": m.n_sigma}, "summary": summary,
                                     "runs": runs}
            if anchored not in floors:
                floors[anchored] = floor(m, small)
            out["variants"][name]["floor_small"] = floors[anchored]
    out["total_seconds"] = time.perf_counter() - t_all
    atomic_write_json(a.out, out, indent=1)
    print(f"wrote {a.out}")
    return out


if __name__ == "__main__":
    main()
