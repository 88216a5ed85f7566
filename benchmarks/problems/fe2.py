"""FE² on Cook's membrane: the EquiNO surrogate against reference FE², side by side in one run.

Trains EquiNO (physics-informed, no stress labels) and a σ̄-MLP baseline on
the same micro snapshots of the fibre RVE (the MLP on equal terms: σ̄(0) = 0
built in, the same small-strain sampling, Adam then L-BFGS, σ̄ and C̄ labels,
its settings chosen by cross-validation, and a training time of the order of
EquiNO's), then runs the same macro mesh and
displacement path three times: reference FE² (one Newton cell problem per
quadrature point per macro Newton iteration, warm-started), EquiNO and the MLP
(one batched torch call for all points, tangent by autodiff). Writes
``benchmarks/results/fe2.json`` (speed-ups per Newton iteration and per whole
solve, reaction and stress-field errors, counts, the per-field EquiNO error
table) and figures next to it.

Run: ``python -m benchmarks run fe2`` (about 60 min on 2 cores); ``--parts ensemble`` reruns only the
two-rank reference FE² measurement (``spon fe2 --nproc 2``, about 8 min) into the existing JSON.
At EquiNO's scale (``--rve-h 0.022``, about 20k micro DOFs) the reference alone takes over an hour:
``--parts reference --reference-file R.json`` runs only it (in its own process, on its own core), and
``--reference-from R.json`` runs the rest against it, after checking that it was made on the same RVE,
macro mesh and load path.
"""
import argparse
import json
import os
import platform
import sys
import time
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

from spon.atomic import atomic_write_json  # noqa: E402
from spon.mesh import gmsh_mesh  # noqa: E402
from spon.multiscale import error_table, save_surrogate  # noqa: E402
from spon.multiscale.macro import FE2Material, SurrogateMaterial  # noqa: E402
from spon.multiscale.workflow import run_macro, stress_field_rel_l2, train_surrogates  # noqa: E402

HERE = Path(__file__).resolve().parents[1]   # benchmarks/
PUBLISHED = {"source": "EquiNO, arXiv 2504.07976 (design.md): RVE1, median test sample, ~21k DOFs",
             "median": {"sigma_xx": 0.0068, "sigma_yy": 0.0093, "sigma_xy": 0.0464},
             "range_reported": {"sigma_xx": "~0.6-1.5 %", "sigma_yy": "~0.6-1.5 %", "sigma_xy": "~5-6 %"},
             "fe2_speedup": "> 8000x"}


def surrogate_options(p):
    """The σ̄-MLP baseline's training budget (its cross-validation over widths and depths)."""
    p.add_argument("--mlp-steps", type=int, default=3000, help="the MLP's Adam steps")
    p.add_argument("--mlp-lbfgs", type=int, default=1000, help="the MLP's L-BFGS iterations")
    p.add_argument("--mlp-folds", type=int, default=4, help="folds of the MLP's cross-validation")
    p.add_argument("--mlp-grid", default=None,
                   help="widths x depths the MLP's cross-validation tries, e.g. 64x3,128x4 (default: "
                        "spon.multiscale.workflow.MLP_GRID)")


def mlp_kwargs(a) -> dict:
    from spon.multiscale.workflow import MLP_GRID

    grid = MLP_GRID if a.mlp_grid is None else tuple(
        {"width": int(w), "depth": int(d)} for w, d in (x.split("x") for x in a.mlp_grid.split(",")))
    return {"mlp_steps": a.mlp_steps, "mlp_lbfgs_steps": a.mlp_lbfgs, "mlp_folds": a.mlp_folds, "mlp_grid": grid}


def ensemble_speedup(a, steps=1):
    """Reference FE² on one and on two ranks (``spon fe2 --nproc N``, micro solves split over
    ``firedrake.Ensemble`` members), back to back on the same macro mesh and first load step(s)."""
    import subprocess
    import tempfile
    disp = a.displacement * steps / a.steps
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2):
            out = Path(tmp) / f"n{n}"
            cmd = [sys.executable, "-m", "spon.cli", "fe2", "--material", "reference", "--rve-h", str(a.rve_h),
                   "--mesh", "cook_membrane", "--h", str(a.macro_h), "--degree", "2",
                   "--displacement", str(disp), "--steps", str(steps), "--nproc", str(n), "--out", str(out)]
            # os.environ, not the C environment: this process's MPI singleton must not leak into mpiexec's ranks
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
            if r.returncode:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
            runs[n] = json.loads((out / "history.json").read_text())
            print(f"reference FE² on {n} rank(s): {runs[n]['seconds']:.1f} s", flush=True)
    r1, r2 = ([s["reaction"] for s in runs[n]["steps"]] for n in (1, 2))
    return {"basis": f"wall time of the macro solve (first {steps} load step(s), {disp} mm) by `spon fe2 "
                     "--material reference --nproc N`, N = 1 then 2, back to back; rank 0's micro solves",
            "seconds": {str(n): runs[n]["seconds"] for n in (1, 2)},
            "micro_solves_rank0": {str(n): runs[n]["micro_solves"] for n in (1, 2)},
            "reaction": {"1": r1, "2": r2},
            "reaction_max_rel_diff": max(abs(x - y) / abs(x) for x, y in zip(r1, r2)),
            "speedup": runs[1]["seconds"] / runs[2]["seconds"], "rve_h": a.rve_h}


def _reference_key(a, mesh, rve):
    """What a saved reference run must share with this one."""
    x = mesh.coordinates.dat.data_ro
    return {"rve_h": a.rve_h, "micro_dofs": rve.V.dim(), "macro_h": a.macro_h, "displacement": a.displacement,
            "steps": a.steps, "macro_cells": mesh.num_cells(), "macro_coordinates_sum": float(np.abs(x).sum())}


def macro_record(mp, hist, secs):
    """One macro load path's numbers (``run_macro``'s output), as the comparison below reads them."""
    stats = mp.material.stats()
    return {"problem": mp, "seconds": secs,
            "material_updates": sum(len(s.residuals) + 1 for s in hist),   # incl. each step's predictor
            "material_seconds": stats["material_seconds"], "stats": stats,
            "reaction": [s.reaction for s in hist], "residuals": [s.residuals for s in hist],
            "strain_max": mp.strain_max}


def run_reference(a, mesh, rve, path):
    """Reference FE² on ``mesh``; returns a JSON-able record (the final σ̄ and u DOFs included)."""
    rec = macro_record(*run_macro(mesh, FE2Material(rve, progress=True), path))
    mp = rec.pop("problem")
    return {"key": _reference_key(a, mesh, rve), **rec,
            "stress": mp.stress.dat.data_ro.tolist(), "u": mp.u.dat.data_ro.tolist()}


def load_reference(rec, a, mesh, rve, material):
    """A saved reference run as :func:`macro_record`'s record; refused unless made on the same problem."""
    key = _reference_key(a, mesh, rve)
    if rec["key"] != key:
        raise ValueError(f"--reference-from: made for {rec['key']}, this run is {key}")
    from spon.multiscale.macro import MacroProblem
    mp = MacroProblem(mesh, material)     # the fields only; never solved
    mp.stress.dat.data[:] = np.asarray(rec["stress"])
    mp.u.dat.data[:] = np.asarray(rec["u"])
    mp.strain_max = rec["strain_max"]
    return {"problem": mp, "material_seconds": rec["stats"]["material_seconds"],
            **{k: rec[k] for k in ("seconds", "material_updates", "stats", "reaction", "residuals", "strain_max")}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rve-h", type=float, default=0.05)
    p.add_argument("--macro-h", type=float, default=8.0)
    p.add_argument("--displacement", type=float, default=2.0, help="final vertical edge displacement (mm)")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--train", type=int, default=100)
    p.add_argument("--val", type=int, default=25)
    p.add_argument("--test", type=int, default=100)
    p.add_argument("--adam", type=int, default=1000)
    p.add_argument("--lbfgs", type=int, default=1000)
    p.add_argument("--pod-tol", type=float, default=1e-6, help="EquiNO's POD keeps 1 - tol of the energy")
    p.add_argument("--pod-anchors", type=float, default=1e-4,
                   help="strain of the linear-regime anchors in EquiNO's POD (0: none)")
    p.add_argument("--equino-form", default="secant", choices=["secant", "offset"],
                   help="EquiNO's coefficients: c = G(x) x (secant) or N(x) - N(0) (offset)")
    p.add_argument("--parts", default="all", choices=["all", "ensemble", "reference"],
                   help="ensemble: only the two-rank reference measurement, merged into --out; "
                        "reference: only reference FE², written to --reference-file")
    p.add_argument("--reference-file", type=Path, help="where --parts reference writes its run")
    p.add_argument("--reference-from", type=Path, help="a --parts reference run to use instead of solving it")
    p.add_argument("--skip-ensemble", action="store_true",
                   help="keep the two-rank measurement already in --out instead of rerunning it (none if --out "
                        "has none)")
    surrogate_options(p)
    p.add_argument("--out", type=Path, default=HERE / "results" / "fe2.json")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t_all = time.perf_counter()
    if a.parts == "ensemble":
        out = json.loads(a.out.read_text())
        out["reference_ensemble"] = ensemble_speedup(a)
        out["reference_two_rank_speedup"] = out["reference_ensemble"]["speedup"]
        atomic_write_json(a.out, out, indent=1)
        print(json.dumps(out["reference_ensemble"], indent=1))
        return out
    mesh = gmsh_mesh("cook_membrane", h=a.macro_h)
    path = np.linspace(0, a.displacement, a.steps + 1)[1:]
    if a.parts == "reference":
        if a.reference_file is None:
            p.error("--parts reference needs --reference-file")
        from spon.multiscale.workflow import rve_problem
        rec = run_reference(a, mesh, rve_problem("fibre", h=a.rve_h)[0], path)
        atomic_write_json(a.reference_file, rec)
        print(f"reference FE²: {rec['seconds']:.0f} s, reactions {np.round(rec['reaction'], 3)}; "
              f"wrote {a.reference_file}")
        return rec
    previous = json.loads(a.out.read_text()) if a.skip_ensemble and a.out.is_file() else None
    S = train_surrogates("fibre", h=a.rve_h, n_train=a.train, n_test=a.test, n_val=a.val, adam_steps=a.adam,
                         lbfgs_steps=a.lbfgs, tol=a.pod_tol, pod_anchors=a.pod_anchors,
                         equino_form=a.equino_form, **mlp_kwargs(a))
    figs = a.out.parent / "fe2"
    figs.mkdir(parents=True, exist_ok=True)
    save_surrogate(S["equino"], figs / "equino.pt")
    save_surrogate(S["mlp"], figs / "mlp.pt")   # benchmarks/problems/dns.py reuses both
    print("held-out errors:", json.dumps(S["errors"], indent=1))

    runs = {}
    materials = {"equino": SurrogateMaterial(S["equino"]), "mlp": SurrogateMaterial(S["mlp"])}
    for mat in materials.values():   # warm, as the reference's kernels are (compiled by the snapshots)
        mat.evaluate(np.zeros((8, 3)))
        mat.calls, mat.seconds = 0, 0.0
    for name, mat in (*materials.items(), ("reference", FE2Material(S["rve"], progress=True))):
        if name == "reference" and a.reference_from:
            while not a.reference_from.exists():    # still being run by --parts reference
                print(f"waiting for {a.reference_from}", flush=True)
                time.sleep(60)
            runs[name] = load_reference(json.loads(a.reference_from.read_text()), a, mesh, S["rve"],
                                        materials["equino"])
            runs[name]["source"] = str(a.reference_from)
            continue
        runs[name] = r = macro_record(*run_macro(mesh, mat, path))
        print(f"{name}: {r['seconds']:.2f} s, {r['material_updates']} material updates, "
              f"reactions {np.round(r['reaction'], 3)}")

    ref = runs["reference"]
    out = {"machine": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
           "threads": 1, "rve": {"kind": "fibre", "h": a.rve_h, "degree": 2, "micro_dofs": S["rve"].V.dim()},
           "macro": {"mesh": "cook_membrane", "h": a.macro_h, "degree": 2, "cells": mesh.num_cells(),
                     "quadrature_points": ref["problem"].n_quadrature_points,
                     "load_path_mm": path.tolist(), "reduced_load_path": False},
           "snapshots": {"train": a.train, "validation": a.val, "test": a.test, "box": 0.04,
                         "sampling": "train: Latin hypercube with 25 % of the strains scaled by U(0,1)^2 "
                                     "towards zero (shared by both surrogates); test: Latin hypercube"},
           "modes": S["modes"], "pod": {"tol": a.pod_tol, "anchors": a.pod_anchors,
                                        "energy_kept": S["pod_energy_kept"]}, "equino_form": a.equino_form,
           "training_seconds": S["seconds"],
           "mlp_over_equino_training_seconds": S["seconds"]["train_mlp"] / S["seconds"]["train_equino"],
           "accuracy_per_training_second": {
               "basis": "held-out sigma_bar and tangent errors (mean relative) after each training phase, "
                        "against cumulative training seconds",
               **S["trace"]},
           "mlp_baseline": {"recipe": "anchored sigma_bar(0) = 0; per-snapshot relative loss on sigma_bar and "
                                      "C_bar (Sobolev); Adam 3000 steps with a cosine schedule, then L-BFGS "
                                      "1000 iterations (strong Wolfe); width x depth chosen by k-fold "
                                      "cross-validation on the training snapshots, then refit on all",
                            **S["mlp_search"]},
           "equino_final_loss": S["loss_history"][-1], "errors_held_out": S["error_tables"],
           "errors_held_out_basis": "relative L2 over the RVE per test strain; median and mean over the test set",
           "errors_validation": {"equino": error_table(S["equino"], S["val"], S["quadrature"])} if S["val"] else None,
           "published_equino": PUBLISHED}
    for name in ("equino", "mlp"):
        r = runs[name]
        per_it = (ref["material_seconds"] / ref["material_updates"]) / (r["material_seconds"] / r["material_updates"])
        out[name] = {
            "speedup": ref["seconds"] / r["seconds"],
            "speedup_basis": "whole macro solve, wall time, same mesh and load path",
            "speedup_material_per_newton_iteration": per_it,
            "speedup_material_per_newton_iteration_basis": "constitutive update of all quadrature points "
                                                           "(reference: micro solves + tangents; surrogate: "
                                                           "one batched torch call with autodiff tangent)",
            "seconds": r["seconds"], "reference_seconds": ref["seconds"],
            "reaction": r["reaction"], "reference_reaction": ref["reaction"],
            "reaction_rel_err": float(max(abs(x - y) / abs(y) for x, y in zip(r["reaction"], ref["reaction"]))),
            "reaction_rel_err_basis": "max over the load steps of |R - R_ref| / |R_ref|",
            "reaction_rel_err_per_step": [abs(x - y) / abs(y) for x, y in zip(r["reaction"], ref["reaction"])],
            "stress_field_rel_l2": stress_field_rel_l2(r["problem"].stress, ref["problem"].stress,
                                                       ref["problem"].dx),
            "stress_field_rel_l2_basis": "final load step, over the macro domain (quadrature), σ:σ norm",
            "newton_residuals": r["residuals"], "material_updates": r["material_updates"],
            "training_seconds": S["seconds"][f"train_{name}"], "held_out": S["errors"][name]}
    out["reference"] = {"newton_residuals": ref["residuals"], **ref["stats"],
                        "material_updates": ref["material_updates"], "strain_max": ref["strain_max"],
                        "seconds": ref["seconds"], "source": ref.get("source", "this run")}
    out["speedup"] = out["equino"]["speedup"]
    out["speedup_basis"] = out["equino"]["speedup_basis"]
    out["speedup_per_newton_iteration"] = out["equino"]["speedup_material_per_newton_iteration"]
    out["reaction_rel_err"] = out["equino"]["reaction_rel_err"]
    out["stress_field_rel_l2"] = out["equino"]["stress_field_rel_l2"]
    out["quadrature_points"] = ref["problem"].n_quadrature_points
    out["micro_dofs"] = S["rve"].V.dim()
    if previous:   # the measurement is of its own RVE, which it records
        out["reference_ensemble"] = {"rve_h": previous["rve"]["h"], **previous["reference_ensemble"]}
    elif not a.skip_ensemble:
        out["reference_ensemble"] = ensemble_speedup(a)
    out["reference_two_rank_speedup"] = out.get("reference_ensemble", {}).get("speedup")
    out["total_seconds"] = time.perf_counter() - t_all
    atomic_write_json(a.out, out, indent=1)

    # figures
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for name, st in (("reference", "k-o"), ("equino", "r--s"), ("mlp", "b:^")):
        ax[0].plot([0, *path], [0, *runs[name]["reaction"]], st, label=name)
    ax[0].set_xlabel("edge displacement (mm)"), ax[0].set_ylabel("reaction (N/mm)"), ax[0].legend()
    ax[0].set_title("Cook's membrane: reaction vs load")
    for name, st in (("reference", "k-o"), ("equino", "r--s")):
        for k, r in enumerate(runs[name]["residuals"]):
            ax[1].semilogy(np.arange(1, len(r) + 1), np.array(r) / r[0], st, alpha=0.3 + 0.7 * (k + 1) / len(path),
                           label=name if k == 0 else None)
    ax[1].set_xlabel("Newton iteration"), ax[1].set_ylabel("relative residual"), ax[1].legend()
    ax[1].set_title("Newton convergence per load step")
    fig.tight_layout()
    fig.savefig(figs / "reaction_newton.png", dpi=120)
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.5))
    fields = {n: runs[n]["problem"].stress_output() for n in ("reference", "equino")}
    err = fd.Function(fields["reference"].function_space(), name="error").assign(fields["equino"] - fields["reference"])
    for i, (f, title) in enumerate(((fields["reference"], "reference FE² σ̄_xy"), (fields["equino"], "EquiNO σ̄_xy"),
                                    (err, "EquiNO − reference"))):
        c = tripcolor(fd.Function(fd.FunctionSpace(mesh, "DG", 0)).interpolate(f[2]), axes=ax[i], cmap="coolwarm")
        ax[i].set_title(title), ax[i].set_aspect("equal")
        fig.colorbar(c, ax=ax[i])
    fig.tight_layout()
    fig.savefig(figs / "stress_fields.png", dpi=120)
    VTKFile(str(figs / "cook.pvd")).write(runs["reference"]["problem"].u, fields["reference"])
    print(json.dumps({k: out[k] for k in ("speedup", "speedup_per_newton_iteration", "reaction_rel_err",
                                          "stress_field_rel_l2", "quadrature_points", "micro_dofs")}, indent=1))
    print(f"wrote {a.out} and figures in {figs}/")
    return out


if __name__ == "__main__":
    main()
