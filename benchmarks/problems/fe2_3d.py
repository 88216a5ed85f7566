"""FE² in 3D: a periodic particle RVE from gmsh, at small and at finite strain, and a 3D macro part.

1. **Cell level, ≥ 20k micro DOFs** (``--rve-h 0.1``: 22 053 DOFs): snapshots, EquiNO (constitutive loss
   only), the MLP (labels) and least squares on the POD coefficients, at finite strain (held-out rotated
   stretches) and at small strain (EquiNO's nonlinear matrix, :class:`SmallStrainMatrix`), per-component
   errors (median and mean), frame indifference.
2. **3D FE² at finite strain** on a clamped bar bent at its free end (``BoxMesh`` 4 × 1 × 1, P1): reference
   FE² on 1 and on 2 MPI ranks (micro solves split over ``firedrake.Ensemble`` members, same reactions),
   and the surrogates trained on that cell (``--macro-rve-h``, coarser: every Newton iteration of the
   reference solves one cell per quadrature point), reaction error per step and speed-up per Newton iteration.

Writes ``benchmarks/results/fe2_3d.json``. The 3D training budget is smaller than the 2D one (batch 32;
a 3D cell has ~20k quadrature points per strain), stated in the JSON.

    python -m benchmarks run fe2_3d         # about 70 min on 2 cores
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from spon.atomic import atomic_write_json  # noqa: E402
from spon.mesh import rve3d_mesh  # noqa: E402
from spon.multiscale import FiniteStrainRVEProblem, MooneyRivlin, NeoHookean  # noqa: E402
from spon.multiscale.finite_workflow import (finite_strain_data, frame_indifference_error,  # noqa: E402
                                             least_squares_models, mean_std, stress_errors, summarise_errors,
                                             train_equino_validated, train_mlp_validated)
from spon.multiscale.hyperelastic import SmallStrainMatrix  # noqa: E402

HERE = Path(__file__).resolve().parents[1]   # benchmarks/

FINITE = {1: MooneyRivlin(150.0, 58.5, 4500.0), 2: NeoHookean(29918.0, 23507.0)}
SMALL = {1: SmallStrainMatrix(), 2: NeoHookean(29918.0, 23507.0)}     # the fibre's linearisation at small strain


def bar(comm=None):
    import firedrake as fd
    kw = {} if comm is None else {"comm": comm}
    return fd.BoxMesh(4, 1, 1, 4.0, 1.0, 1.0, **kw)      # x = 0: id 1 (clamped), x = 4: id 2 (loaded)


def macro_run(material, path, comm=None):
    from spon.multiscale.total_lagrangian import FiniteStrainMacroProblem
    mp = FiniteStrainMacroProblem(bar(comm), material, direction=2, degree=1)
    t0 = time.perf_counter()
    mp.solve(path, progress=False)
    st = material.stats()
    return mp, {"seconds": time.perf_counter() - t0, "reaction": [s.reaction for s in mp.history],
                "newton_iterations": [len(s.residuals) for s in mp.history],
                "material_updates": sum(len(s.residuals) + 1 for s in mp.history),
                "material_seconds": st["material_seconds"], "stretch_max": mp.stretch_max, "stats": st}


def reference_part(a):
    """Run by ``mpiexec -n N``: reference FE² with the micro solves split over N ensemble members."""
    import firedrake as fd
    from spon.multiscale.total_lagrangian import FiniteStrainFE2Material
    ens = fd.Ensemble(fd.COMM_WORLD, 1)
    rve = FiniteStrainRVEProblem(rve3d_mesh("particle", h=a.macro_rve_h, comm=ens.comm), FINITE)
    path = [float(x) for x in a.load_path.split(",")]
    mp, rec = macro_run(FiniteStrainFE2Material(rve, ensemble=ens), path, comm=ens.comm)
    rec.update(micro_dofs=rve.dofs, ranks=fd.COMM_WORLD.size, quadrature_points=mp.n_quadrature_points)
    if fd.COMM_WORLD.rank == 0:
        Path(a.reference_out).write_text(json.dumps(rec))


def reference(a, n):
    from spon.ensemble import mpiexec_env
    import shutil
    import tempfile
    exe = shutil.which("mpiexec")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ref.json"
        cmd = [exe, "-n", str(n), sys.executable, "-m", "benchmarks.problems.fe2_3d", "--part", "reference",
               "--macro-rve-h", str(a.macro_rve_h), "--load-path", a.load_path, "--reference-out", str(out)]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=mpiexec_env(),
                           cwd=HERE.parent, stdin=subprocess.DEVNULL)
        if r.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
        rec = json.loads(out.read_text())
        rec["wall_seconds"] = time.perf_counter() - t0
        print(f"3D reference FE² on {n} rank(s): {rec['seconds']:.1f} s", flush=True)
        return rec


def cell_table(rve, materials, a, box, seeds, progress=True):
    """Snapshots, the three surrogates, held-out errors and frame indifference on one cell."""
    data = finite_strain_data(rve, a.n_train, a.n_val, a.n_test, box=box, stretch_min=a.stretch_min,
                              progress=progress)
    rows, models = {}, {}
    for seed in range(seeds):
        eq, eq_info = train_equino_validated(data, materials, adam=a.adam, lbfgs=a.lbfgs, n_modes=a.modes,
                                             seed=seed, batch=a.batch, collocation=a.collocation, progress=progress)
        mlp, mlp_info = train_mlp_validated(data, adam=a.adam, lbfgs=a.lbfgs, seed=seed, progress=progress)
        found = {"equino": (eq, eq_info), "mlp": (mlp, mlp_info)}
        if seed == 0:
            for k, m in least_squares_models(data, eq.stress_mean_modes.numpy(), eq.stress_modes.numpy()).items():
                found[k] = (m, {"seconds": 0.0})
        for name, (m, info) in found.items():
            rows.setdefault(name, []).append(
                {"seed": seed, "train": {k: v for k, v in info.items() if k != "trace"}, "trace": info.get("trace"),
                 "held_out": stress_errors(m, data.test_F, data.test_P, data.test_A),
                 # a rotation is not a small strain: objectivity is a finite-strain property
                 "frame_indifference_error": (frame_indifference_error(m, data.test_F)
                                              if rve.kinematics == "finite" else None)})
            models.setdefault(name, []).append(m)
            print(rve.kinematics, name, seed, rows[name][-1]["held_out"]["P_bar"], flush=True)
    table = {name: {**summarise_errors(rs), "runs": rs} for name, rs in rows.items()}
    info = {"micro_dofs": rve.dofs, "quadrature_points": len(data.quad.weights), "kinematics": rve.kinematics,
            "box": box, "stretch_min": data.stretch_min, "n_train": a.n_train, "n_val": a.n_val,
            "n_test": a.n_test, "snapshot_seconds": data.seconds,
            "seconds_per_cell_solve": data.seconds / (a.n_train + a.n_val + a.n_test)}
    return info, table, models


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", choices=("all", "reference"), default="all")
    p.add_argument("--rve-h", type=float, default=0.1, help="the cell-level RVE (22k DOFs at 0.1)")
    p.add_argument("--macro-rve-h", type=float, default=0.2, help="the RVE inside 3D FE² (5.3k DOFs at 0.2)")
    p.add_argument("--box", type=float, default=0.2)
    p.add_argument("--small-box", type=float, default=0.04)
    p.add_argument("--stretch-min", type=float, default=0.85)
    p.add_argument("--n-train", type=int, default=40)
    p.add_argument("--n-val", type=int, default=8)
    p.add_argument("--n-test", type=int, default=16)
    p.add_argument("--adam", type=int, default=600)
    p.add_argument("--lbfgs", type=int, default=400)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--collocation", type=int, default=128)
    p.add_argument("--modes", type=int, default=16)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--macro-seeds", type=int, default=3)
    p.add_argument("--load-path", default="0.25,0.5,0.75,1.0", help="end deflections of the bar")
    p.add_argument("--reference-out", default=None)
    p.add_argument("--parts", default="cell,macro", help="cell (the ≥ 20k-DOF cell tables), macro (3D FE²)")
    p.add_argument("--ranks", default="1,2", help="MPI ranks of the reference FE² runs (mpiexec)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "fe2_3d.json")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    if a.part == "reference":
        return reference_part(a)
    t_all = time.perf_counter()
    out = {"machine": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
           "threads": 1, "rve": {"kind": "particle", "fraction": 0.2, "h": a.rve_h, "degree": 2,
                                 "phases_finite": {k: [type(m).__name__, m.params()] for k, m in FINITE.items()},
                                 "phases_small": {k: [type(m).__name__, m.params()] for k, m in SMALL.items()}},
           "budget": {"adam": a.adam, "lbfgs": a.lbfgs, "batch": a.batch, "collocation": a.collocation,
                      "modes": a.modes, "seeds": a.seeds,
                      "checkpoint": "lowest validation P_bar error among the end of Adam and each L-BFGS round"},
           "basis": "as fe2_finite_strain.json: per-sample relative Frobenius errors of P_bar (sigma_bar at small "
                    "strain) on held-out deformations (rotated stretches at finite strain), components "
                    "|dP_ij|/|P*|; reaction_rel_err per load step against reference FE²"}
    parts = set(a.parts.split(","))
    budget = out["budget"]
    if a.out.is_file() and "cell" not in parts:        # the macro part run on its own joins the cell tables
        out = {**out, **json.loads(a.out.read_text())}
    mesh = rve3d_mesh("particle", h=a.rve_h)
    for kin, mats, box in (("finite", FINITE, a.box), ("small", SMALL, a.small_box)) if "cell" in parts else ():
        rve = FiniteStrainRVEProblem(mesh, mats, kinematics=kin)
        info, table, _ = cell_table(rve, mats, a, box, a.seeds)
        out[f"cell_{kin}_strain"] = {**info, "rows": table}
        atomic_write_json(a.out, out, indent=1)        # a long run: keep what is done

    if "macro" not in parts:
        out["total_seconds"] = time.perf_counter() - t_all
        atomic_write_json(a.out, out, indent=1)
        print(f"wrote {a.out}")
        return out
    # 3D FE² at finite strain on the bar
    from spon.multiscale.total_lagrangian import StretchSurrogateMaterial
    path = [float(x) for x in a.load_path.split(",")]
    ranks = sorted({int(n) for n in a.ranks.split(",")}, reverse=True)
    ref = {n: reference(a, n) for n in ranks}
    r1 = ref[min(ranks)]["reaction"]
    macro_rve = FiniteStrainRVEProblem(rve3d_mesh("particle", h=a.macro_rve_h), FINITE)
    info, table, models = cell_table(macro_rve, FINITE, a, a.box, a.macro_seeds, progress=False)
    per_ref = ref[min(ranks)]["material_seconds"] / ref[min(ranks)]["material_updates"]
    for name, ms in models.items():
        recs = []
        for m in ms:
            try:
                _, rec = macro_run(StretchSurrogateMaterial(m), path)
                recs.append({"reaction": rec["reaction"],
                             "reaction_rel_err": [abs(x - y) / abs(y) for x, y in zip(rec["reaction"], r1)],
                             "newton_iterations": rec["newton_iterations"],
                             "speedup_per_newton_iteration": per_ref / (rec["material_seconds"]
                                                                        / rec["material_updates"])})
            except (RuntimeError, ValueError) as e:
                recs.append({"failed": str(e)[:300]})
        ok = [r for r in recs if "reaction_rel_err" in r]
        table[name]["macro"] = {"runs": recs, "failures": len(recs) - len(ok),
                                "reaction_rel_err": mean_std([r["reaction_rel_err"] for r in ok]) if ok else None,
                                "reaction_rel_err_max": float(max(max(r["reaction_rel_err"]) for r in ok))
                                if ok else None,
                                "speedup_per_newton_iteration": mean_std([r["speedup_per_newton_iteration"]
                                                                         for r in ok]) if ok else None}
    out["fe2_bar"] = {"macro": {"mesh": "BoxMesh(4, 1, 1) on [0,4]x[0,1]x[0,1], P1", "clamped": "x = 0",
                                "loaded": "x = 4, u_z prescribed", "load_path": path,
                                "quadrature_points": ref[min(ranks)]["quadrature_points"]},
                      "rve": info, "budget": {**budget, "seeds": a.macro_seeds},
                      "reference": {str(n): ref[n] for n in ranks},
                      "speedup_basis": "reference micro-solve seconds per macro material update (one rank) over "
                                       "the surrogate's, same run",
                      "rows": table}
    if 1 in ref and 2 in ref:
        out["fe2_bar"]["two_rank_speedup"] = ref[1]["seconds"] / ref[2]["seconds"]
        out["fe2_bar"]["two_rank_reaction_max_rel_diff"] = max(abs(x - y) / abs(x) for x, y in
                                                                zip(ref[1]["reaction"], ref[2]["reaction"]))
    out["total_seconds"] = time.perf_counter() - t_all
    atomic_write_json(a.out, out, indent=1)
    print(f"wrote {a.out}")
    return out


if __name__ == "__main__":
    main()
