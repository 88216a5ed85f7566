"""FE² at finite strain on Cook's membrane: EquiNO, the P̄-MLP and least squares against reference FE².

The fibre RVE (Mooney–Rivlin matrix, neo-Hookean fibres, plane strain) is solved at
stretches ``Ū`` (components of ``Ū − I`` in ``[−box, box]``, principal stretches
≥ ``stretch_min``). Every surrogate learns ``P̄(Ū)`` and returns ``P̄(F̄) = R̄ P̂(Ū)``
(objective by construction). EquiNO trains on the constitutive loss only (no stress
labels); the MLP on the snapshots' ``P̄``, with the same Adam and L-BFGS budget;
least squares fits the POD stress coefficients. Checkpoints are chosen on a
validation split; the test deformations are rotated stretches ``F = Q Ū``, each
solved by the cell problem directly. Then the same Cook's membrane load path runs
with reference FE² (one cell problem per quadrature point and Newton iteration)
and with each surrogate: the reaction error per load step and the speed-up per
Newton iteration, side by side in one run.

Writes ``benchmarks/results/fe2_finite_strain.json`` and figures next to it.

    python -m benchmarks run fe2_finite_strain          # about 40 min on 2 cores (h = 0.1, 3 seeds)
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from spon.atomic import atomic_write_json  # noqa: E402
from spon.mesh import gmsh_mesh, rve_mesh  # noqa: E402
from spon.multiscale import FiniteStrainRVEProblem, MooneyRivlin, NeoHookean  # noqa: E402
from spon.multiscale.finite_workflow import (finite_strain_data, frame_indifference_error,  # noqa: E402
                                             least_squares_models, mean_std, stress_errors, summarise_errors,
                                             train_equino_validated, train_mlp_validated)
from spon.multiscale.total_lagrangian import (FiniteStrainFE2Material, FiniteStrainMacroProblem,  # noqa: E402
                                              StretchSurrogateMaterial)

HERE = Path(__file__).resolve().parents[1]   # benchmarks/

#: the phases: a soft Mooney–Rivlin matrix (EquiNO's matrix's initial moduli) and stiff neo-Hookean fibres
PHASES = {1: MooneyRivlin(150.0, 58.5, 4500.0), 2: NeoHookean(29918.0, 23507.0)}


def run_macro(mesh, material, path, progress=False):
    mp = FiniteStrainMacroProblem(mesh, material)
    t0 = time.perf_counter()
    mp.solve(path, progress=progress)
    secs = time.perf_counter() - t0
    st = material.stats()
    updates = sum(len(s.residuals) + 1 for s in mp.history)      # incl. each step's predictor
    return mp, {"seconds": secs, "material_seconds": st["material_seconds"], "material_updates": updates,
                "newton_iterations": [len(s.residuals) for s in mp.history],
                "reaction": [s.reaction for s in mp.history], "stretch_max": mp.stretch_max, "stats": st}


def figures(out_dir, mesh, ref_mp, path, ref, rows):
    import firedrake as fd
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from firedrake.output import VTKFile
    from firedrake.pyplot import triplot

    out_dir.mkdir(parents=True, exist_ok=True)
    VTKFile(str(out_dir / "fe2_finite_strain_reference.pvd")).write(ref_mp.u, ref_mp.stress_output())
    fig, ax = plt.subplots(1, 2, figsize=(10, 4.2))
    X = mesh.coordinates.dat.data_ro
    deformed = fd.Mesh(fd.Function(mesh.coordinates.function_space()).interpolate(
        mesh.coordinates + ref_mp.u))
    triplot(mesh, axes=ax[0], interior_kw={"linewidths": 0.3, "edgecolors": "0.7"}, boundary_kw={"colors": "0.7"})
    triplot(deformed, axes=ax[0], interior_kw={"linewidths": 0.4}, boundary_kw={"colors": "k"})
    ax[0].set_aspect("equal")
    ax[0].set_title(f"Cook's membrane, reference FE², {path[-1]:g} mm")
    ax[0].set_xlim(X[:, 0].min() - 2, X[:, 0].max() + 2)
    ax[1].plot([0] + list(path), [0] + ref, "k-o", label="reference FE²")
    for name, r in rows.items():
        ax[1].plot([0] + list(path), [0] + r["reaction_seed0"], "--", marker="x", label=name)
    ax[1].set_xlabel("edge displacement (mm)")
    ax[1].set_ylabel("reaction")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(out_dir / "fe2_finite_strain.png", dpi=120)
    plt.close(fig)


def reference_cost_at_scale(h, n=5, seed=0):
    """Seconds of one warm-started finite-strain cell solve with its tangent (what reference FE² does per point
    and Newton iteration) on the RVE of size ``h``: each of ``n`` stretches is solved once from rest, then
    timed from the state at ``I + 0.98 (F - I)`` (a Newton update's distance)."""
    from spon.multiscale.stretch import sample_stretches, stretch_from_components
    rve = FiniteStrainRVEProblem(rve_mesh("fibre", h=h), PHASES)
    U = stretch_from_components(torch.as_tensor(sample_stretches(n, 0.2, 0.85, 2, seed=seed))).numpy()
    times, its = [], []
    for F in U:
        F0 = np.eye(2) + 0.98 * (F - np.eye(2))
        s0 = rve.solve(F0, tangent=False)
        t0 = time.perf_counter()
        s = rve.solve(F, initial=(F0, s0.raw))
        times.append(time.perf_counter() - t0)
        its.append(s.iterations)
    return {"rve_h": h, "micro_dofs": rve.dofs, "seconds_per_point_solve": float(np.mean(times)),
            "seconds_per_point_solve_all": times, "newton_iterations": its}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rve-h", type=float, default=0.1)
    p.add_argument("--box", type=float, default=0.2, help="bound on the components of U - I")
    p.add_argument("--stretch-min", type=float, default=0.85, help="smallest principal stretch trained")
    p.add_argument("--n-train", type=int, default=100)
    p.add_argument("--n-val", type=int, default=20)
    p.add_argument("--n-test", type=int, default=50)
    p.add_argument("--adam", type=int, default=1500)
    p.add_argument("--lbfgs", type=int, default=1600)
    p.add_argument("--modes", type=int, default=16, help="POD modes of the fluctuation and of the stress")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--macro-h", type=float, default=12.0, help="gmsh size of Cook's membrane")
    p.add_argument("--load-path", default="2,4,6,8,10",
                   help="edge displacements (mm); at 12 mm the composite's stretches leave the training set "
                        "(a principal stretch < 0.85) near the clamped corner")
    p.add_argument("--out", type=Path, default=HERE / "results" / "fe2_finite_strain.json")
    p.add_argument("--parts", default="all", help="all, or scale: add to --out the reference's per-iteration "
                                                  "cost at EquiNO's scale (--scale-rve-h) beside the surrogates'")
    p.add_argument("--scale-rve-h", type=float, default=0.022, help="the RVE of the at-scale cost (~20k DOFs)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    if a.parts == "scale":
        out = json.loads(a.out.read_text())
        cost = reference_cost_at_scale(a.scale_rve_h)
        per_update = cost["seconds_per_point_solve"] * out["macro"]["quadrature_points"]
        cost["reference_seconds_per_newton_iteration"] = per_update
        cost["basis"] = ("reference FE² per macro Newton iteration = quadrature points x measured seconds of one "
                         "warm-started cell solve with tangent on this RVE (the reference loops over the points "
                         "serially); surrogate: median of 20 batched calls on as many points, same process "
                         "(the cost does not depend on the weights: fresh networks of the trained shapes)")
        # the surrogates' cost does not depend on their weights: time fresh ones of the trained shapes here,
        # side by side with the cell solves above, on the macro problem's number of points
        from spon.multiscale.stretch import sample_stretches, stretch_from_components
        from spon.multiscale.stretch_equino import StretchEquiNO, StretchMLP
        nq = out["macro"]["quadrature_points"]
        F = stretch_from_components(torch.as_tensor(sample_stretches(nq, a.box, a.stretch_min, 2, seed=5))).numpy()
        shapes = {"equino": StretchEquiNO(2, a.modes, a.modes, 1, 1, a.box, {}),
                  "mlp": StretchMLP(2, a.box)}
        cost["speedup_per_newton_iteration"] = {}
        for name, m in shapes.items():
            mat = StretchSurrogateMaterial(m)
            ts = []
            for _ in range(20):
                t0 = time.perf_counter()
                mat.evaluate(F)
                ts.append(time.perf_counter() - t0)
            cost[f"{name}_seconds_per_update"] = float(np.median(ts))
            cost["speedup_per_newton_iteration"][name] = per_update / float(np.median(ts))
        out["at_equino_scale"] = cost
        atomic_write_json(a.out, out, indent=1)
        print(json.dumps(cost, indent=1))
        return out
    t_all = time.perf_counter()
    rve = FiniteStrainRVEProblem(rve_mesh("fibre", h=a.rve_h), PHASES)
    data = finite_strain_data(rve, a.n_train, a.n_val, a.n_test, a.box, a.stretch_min)
    # the cell problem's own frame indifference, for scale
    from spon.multiscale.finite_workflow import random_rotations
    Q = random_rotations(1, 2, seed=3)[0]
    s0, s1 = rve.solve(data.test_F[0], tangent=False), rve.solve(Q @ data.test_F[0], tangent=False)
    cell_frame = float(np.linalg.norm(s1.stress - Q @ s0.stress) / np.linalg.norm(s0.stress))

    mesh = gmsh_mesh("cook_membrane", h=a.macro_h)
    path = [float(x) for x in a.load_path.split(",")]
    ref_mp, ref = run_macro(mesh, FiniteStrainFE2Material(rve, progress=True), path, progress=True)
    per_iter_ref = ref["material_seconds"] / ref["material_updates"]

    runs = {k: [] for k in ("equino", "mlp", "least_squares_deg1", "least_squares_deg2")}
    for seed in range(a.seeds):
        eq, eq_info = train_equino_validated(data, PHASES, adam=a.adam, lbfgs=a.lbfgs, n_modes=a.modes, seed=seed)
        mlp, mlp_info = train_mlp_validated(data, adam=a.adam, lbfgs=a.lbfgs, seed=seed)
        models = {"equino": (eq, eq_info), "mlp": (mlp, mlp_info)}
        if seed == 0:    # deterministic given the snapshots
            for k, m in least_squares_models(data, eq.stress_mean_modes.numpy(), eq.stress_modes.numpy()).items():
                models[k] = (m, {"seconds": 0.0})
        for name, (m, info) in models.items():
            try:
                _, rec = run_macro(mesh, StretchSurrogateMaterial(m), path)
                rel = [abs(r - r0) / abs(r0) for r, r0 in zip(rec["reaction"], ref["reaction"])]
                per_iter = rec["material_seconds"] / rec["material_updates"]
                macro = {"reaction": rec["reaction"], "reaction_rel_err": rel,
                         "newton_iterations": rec["newton_iterations"], "surrogate_seconds_per_update": per_iter,
                         "speedup_per_newton_iteration": per_iter_ref / per_iter,
                         "speedup_whole_solve": ref["seconds"] / rec["seconds"]}
            except (RuntimeError, ValueError) as e:       # a surrogate whose macro Newton fails is reported so
                macro = {"failed": str(e)[:300]}
            row = {"seed": seed, "train": {k: v for k, v in info.items() if k != "trace"},
                   "trace": info.get("trace"),
                   "held_out": stress_errors(m, data.test_F, data.test_P, data.test_A),
                   "frame_indifference_error": frame_indifference_error(m, data.test_F), **macro}
            runs[name].append(row)
            print(name, seed, row["held_out"]["P_bar"], macro.get("reaction_rel_err"), flush=True)

    rows = {}
    for name, rs in runs.items():
        ok = [r for r in rs if "reaction_rel_err" in r]
        rows[name] = {
            **summarise_errors(rs),
            "reaction_rel_err": mean_std([r["reaction_rel_err"] for r in ok]) if ok else None,
            "reaction_rel_err_max": float(max(max(r["reaction_rel_err"]) for r in ok)) if ok else None,
            "speedup_per_newton_iteration": mean_std([r["speedup_per_newton_iteration"] for r in ok]) if ok else None,
            "macro_failures": len(rs) - len(ok),
            "reaction_seed0": ok[0]["reaction"] if ok else [np.nan] * len(path),
            "runs": rs}
    out = {"machine": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
           "threads": 1,
           "rve": {"kind": "fibre", "h": a.rve_h, "degree": 2, "micro_dofs": rve.dofs, "phases": {
               k: [type(m).__name__, m.params()] for k, m in PHASES.items()},
               "quadrature_points": len(data.quad.weights)},
           "training_set": {"box": a.box, "stretch_min": a.stretch_min, "n_train": a.n_train, "n_val": a.n_val,
                            "n_test": a.n_test, "test": "rotated stretches F = Q U, solved directly",
                            "snapshot_seconds": data.seconds},
           "budget": {"adam": a.adam, "lbfgs": a.lbfgs, "lbfgs_round": 200, "collocation": 256,
                      "checkpoint": "lowest validation P_bar error among the end of Adam and each L-BFGS round",
                      "modes": a.modes},
           "objectivity": "surrogates learn P(U) on the stretch components and return R P(U): objective by "
                          "construction; frame_indifference_error = max |P(QF) - Q P(F)| / |P(F)| on the test F",
           "cell_problem_frame_indifference_error": cell_frame,
           "macro": {"mesh": "cook_membrane", "h": a.macro_h, "cells": mesh.num_cells(),
                     "quadrature_points": ref_mp.n_quadrature_points, "load_path_mm": path,
                     "reference_reaction": ref["reaction"], "reference_seconds": ref["seconds"],
                     "reference_newton_iterations": ref["newton_iterations"],
                     "reference_material_seconds_per_newton_iteration": per_iter_ref,
                     "stretch_max": ref["stretch_max"], "reference_stats": ref["stats"]},
           "basis": "P_bar: per-sample |P - P*|_F / |P*|_F on the held-out rotated deformations; components: "
                    "|P_ij - P*_ij| / |P*|_F; reaction_rel_err: |R - R_ref| / |R_ref| per load step; speed-up: "
                    "reference micro-solve seconds per macro material update over the surrogate's, same run; "
                    "mean and std over seeds (least squares: deterministic, one run)",
           "rows": rows,
           "targets": {"reaction_rel_err_every_step": 0.01, "speedup_per_newton_iteration": 1e4},
           "total_seconds": time.perf_counter() - t_all}
    for name, r in rows.items():
        out["rows"][name]["meets_reaction_target"] = (r["reaction_rel_err_max"] is not None
                                                      and r["reaction_rel_err_max"] <= 0.01)
    figures(a.out.parent / "figures", mesh, ref_mp, path, ref["reaction"], {k: rows[k] for k in ("equino", "mlp")})
    atomic_write_json(a.out, out, indent=1)
    print(f"wrote {a.out}")
    return out


if __name__ == "__main__":
    main()
