"""FE² against a direct numerical simulation (DNS) of the fully resolved specimen, for growing N.

The specimen is a square of N × N copies of the fibre RVE (the RVE's own mesh,
tiled: :func:`spon.mesh.tile_rve_msh`), clamped at x = 0 and pulled along x at
x = N to the macro strains ``--strain`` (in ``--steps`` steps), with EquiNO's
nonlinear matrix and linear fibres. The DNS solves it with every fibre
resolved. FE² solves the homogenised problem on the unit square (gmsh,
graded towards the clamped corners) with three constitutive responses:
reference FE² (one cell problem per quadrature point and Newton iteration),
EquiNO and the σ̄-MLP. The homogenised problem is self-similar: on the square
of side N under the displacement N·ε its solution is N u₁(x/N), so its
reaction is exactly N times the unit square's, and one FE² run serves every N.

Scale separation says the DNS reaction approaches FE²'s as N grows. Writes
``benchmarks/results/dns.json``, ``dns/reaction.png``, ``dns/dns_N.pvd`` (the
micro stress of the largest specimen) and ``dns/fe2.pvd`` (reference σ̄).

Run: ``python -m benchmarks run dns`` (about 25 min; needs ``benchmarks/results/fe2/equino.pt`` and
``mlp.pt`` from ``benchmarks/problems/fe2.py`` for the same RVE, else ``--train`` fits them here).
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

from spon.atomic import atomic_write_json  # noqa: E402
from spon.mesh import gmsh_mesh, rve_mesh, rve_msh, tile_rve_msh  # noqa: E402
from spon.multiscale import (RVEProblem, StressMLP, collect_snapshots, equino_materials,  # noqa: E402
                             fit_stress_mlp, latin_hypercube, load_surrogate, save_surrogate)
from spon.multiscale.dns import DNSProblem  # noqa: E402
from spon.multiscale.macro import FE2Material, SurrogateMaterial  # noqa: E402
from spon.multiscale.workflow import run_macro, small_strain_sampling, train_surrogates  # noqa: E402

from .fe2 import mlp_kwargs, surrogate_options  # noqa: E402

HERE = Path(__file__).resolve().parents[1]   # benchmarks/


def surrogates(a):
    """EquiNO and the σ̄-MLP for the benchmark's RVE: fe2.py's checkpoints, or trained here."""
    want = {"kind": "fibre", "h": a.rve_h, "degree": 2}
    files = {k: HERE / "results" / "fe2" / f"{k}.pt" for k in ("equino", "mlp")}
    if a.train or not files["equino"].is_file():
        S = train_surrogates("fibre", h=a.rve_h, n_train=a.train_samples, n_test=max(2, a.train_samples // 2),
                             adam_steps=a.adam, lbfgs_steps=a.lbfgs, **mlp_kwargs(a))
        return {"equino": S["equino"], "mlp": S["mlp"]}, {"source": "trained here (train_surrogates defaults)",
                                                          "seconds": S["seconds"]}
    out = {"equino": load_surrogate(files["equino"])}
    info = {"source": "benchmarks/results/fe2/equino.pt (trained by benchmarks/problems/fe2.py)"}
    if files["mlp"].is_file():
        out["mlp"] = load_surrogate(files["mlp"])
        info["source"] += " and mlp.pt"
    else:
        # fe2.py's recipe on fe2.py's training strains, with the width and depth its cross-validation chose
        chosen = json.loads((HERE / "results" / "fe2.json").read_text())["mlp_baseline"]["chosen"]
        rve = RVEProblem(rve_mesh("fibre", h=a.rve_h), equino_materials())
        E = small_strain_sampling(latin_hypercube(100, 0.04, seed=0), 0.25, seed=0)
        t0 = time.perf_counter()
        snaps = collect_snapshots(rve, E)
        mlp = StressMLP(box=0.04, **chosen, meta={"rve": want})
        fit_stress_mlp(mlp, snaps.strain, snaps.stress, snaps.tangent, steps=3000, lbfgs_steps=1000, seed=0)
        save_surrogate(mlp, files["mlp"])
        out["mlp"] = mlp
        info["mlp"] = {"source": "fitted here: fe2.py's training strains and recipe (Adam 3000 + L-BFGS 1000, "
                                 f"sigma_bar and C_bar), fe2.json's cross-validated choice {chosen}",
                       "seconds": time.perf_counter() - t0}
    for k, m in out.items():
        if m.meta.get("rve") != want:
            raise ValueError(f"{files[k]}: trained on the RVE {m.meta.get('rve')}, not {want}; "
                             "rerun the fe2 benchmark with this --rve-h or pass --train")
    return out, info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ns", default="2,4,8,12", help="specimen sizes N (cells per side)")
    p.add_argument("--rve-h", type=float, default=0.05)
    p.add_argument("--strain", type=float, default=0.015, help="final macro strain eps_xx = displacement / N")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--macro-h", type=float, default=0.5, help="gmsh size of the homogenised unit square")
    p.add_argument("--train", action="store_true", help="fit EquiNO and the MLP here, not from fe2.py")
    p.add_argument("--train-samples", type=int, default=100, help="with --train: training snapshots")
    p.add_argument("--adam", type=int, default=1000, help="with --train: EquiNO's Adam steps")
    p.add_argument("--lbfgs", type=int, default=1000, help="with --train: EquiNO's L-BFGS iterations")
    surrogate_options(p)
    p.add_argument("--out", type=Path, default=HERE / "results" / "dns.json")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t_all = time.perf_counter()
    ns = [int(n) for n in a.ns.split(",")]
    strains = np.linspace(0, a.strain, a.steps + 1)[1:]
    figs = a.out.parent / "dns"
    figs.mkdir(parents=True, exist_ok=True)
    mats = equino_materials()
    models, model_info = surrogates(a)

    out = {"machine": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
           "threads": 1,
           "setup": {"rve": {"kind": "fibre", "h": a.rve_h, "degree": 2},
                     "specimen": "N x N tiled RVEs, clamped at x = 0, u_x = N eps at x = N (u_y free), "
                                 "y = 0 and y = N free; plane strain",
                     "macro_strain": strains.tolist(),
                     "fe2_mesh": {"mesh": "clamped_square", "h": a.macro_h, "degree": 2},
                     "self_similarity": "FE² solved once on the unit square; the N-specimen's homogenised "
                                        "reaction is N times it (exact: u_N(x) = N u_1(x / N))",
                     "surrogates": model_info}}

    def save():
        out["total_seconds"] = time.perf_counter() - t_all
        atomic_write_json(a.out, out, indent=1)

    # FE² on the homogenised unit square
    mesh = gmsh_mesh("clamped_square", h=a.macro_h)
    rve = RVEProblem(rve_mesh("fibre", h=a.rve_h), mats)
    fe2, problems = {}, {}
    for name, mat in (("equino", SurrogateMaterial(models["equino"])), ("mlp", SurrogateMaterial(models["mlp"])),
                      ("reference", FE2Material(rve, progress=True))):
        mp, hist, secs = run_macro(mesh, mat, strains, clamped=1, loaded=2, direction=0)
        problems[name] = mp
        fe2[name] = {"reaction_unit_square": [s.reaction for s in hist], "seconds": secs,
                     "strain_max": mp.strain_max, **mat.stats()}
        print(name, fe2[name]["reaction_unit_square"], f"{secs:.1f} s", flush=True)
    fe2["quadrature_points"] = problems["reference"].n_quadrature_points
    # the macro mesh's own error, estimated with EquiNO on finer graded meshes
    conv = []
    for h in (a.macro_h, a.macro_h / 2, a.macro_h / 4):
        mp, hist, _ = run_macro(gmsh_mesh("clamped_square", h=h), SurrogateMaterial(models["equino"], strict=False),
                                strains, clamped=1, loaded=2, direction=0, progress=False)
        conv.append({"h": h, "quadrature_points": mp.n_quadrature_points, "reaction_final": hist[-1].reaction})
    for c in conv:
        c["rel_diff_to_finest"] = abs(c["reaction_final"] - conv[-1]["reaction_final"]) / conv[-1]["reaction_final"]
    fe2["macro_mesh_convergence_equino"] = conv
    out["fe2"] = fe2
    save()

    # DNS for each N
    out["dns"] = {}
    for n in ns:
        t0 = time.perf_counter()
        spec = fd.Mesh(str(tile_rve_msh(rve_msh("fibre", h=a.rve_h), n)), name=f"dns{n}")
        dns = DNSProblem(spec, mats)
        hist = dns.solve(n * strains)
        R = np.array([s.reaction for s in hist])
        row = {"dofs": dns.V.dim(), "cells": spec.num_cells(), "seconds": time.perf_counter() - t0,
               "reaction": R.tolist(), "reaction_per_width": (R / n).tolist(),
               "newton_iterations": [len(s.residuals) for s in hist]}
        for name in ("reference", "equino", "mlp"):
            Rf = n * np.array(fe2[name]["reaction_unit_square"])
            err = np.abs(Rf - R) / np.abs(R)
            row[f"{name}_fe2_rel_err"] = err.tolist()
            row[f"{name}_fe2_rel_err_final"] = float(err[-1])
        out["dns"][str(n)] = row
        print(f"N={n}: {row['dofs']} DOFs, {row['seconds']:.0f} s, reaction/N {np.round(R / n, 4)}, "
              f"reference FE² gap {row['reference_fe2_rel_err_final']:.4f}", flush=True)
        if n == max(ns):
            dns_stress = dns.stress_output()
            VTKFile(str(figs / f"dns_{n}.pvd")).write(dns.u, dns_stress)
            ref_stress = problems["reference"].stress_output()
            fields = (fd.Function(fd.FunctionSpace(spec, "DG", 0)).interpolate(dns_stress[0]),
                      fd.Function(fd.FunctionSpace(mesh, "DG", 0)).interpolate(ref_stress[0]))
        save()

    gaps = [out["dns"][str(n)]["reference_fe2_rel_err_final"] for n in ns]
    out["summary"] = {
        "basis": "|R_FE2 - R_DNS| / |R_DNS| at the final load",
        "reference_fe2_rel_err_final": dict(zip(map(str, ns), gaps)),
        "equino_fe2_rel_err_final": {str(n): out["dns"][str(n)]["equino_fe2_rel_err_final"] for n in ns},
        "mlp_fe2_rel_err_final": {str(n): out["dns"][str(n)]["mlp_fe2_rel_err_final"] for n in ns},
        "decreasing_in_n": bool(np.all(np.diff(gaps) < 0)),
        "target": {"largest_n": max(ns), "measured": gaps[-1], "max": 0.03, "met": gaps[-1] <= 0.03}}
    if len(ns) > 1:
        slope = np.polyfit(np.log(ns), np.log(gaps), 1)[0]
        out["summary"]["gap_rate_in_n"] = float(slope)
    save()

    VTKFile(str(figs / "fe2.pvd")).write(problems["reference"].u, problems["reference"].stress_output())
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    e0 = np.r_[0, strains]
    for n in ns:
        ax[0].plot(e0, np.r_[0, out["dns"][str(n)]["reaction_per_width"]], "-o", label=f"DNS N={n}")
    for name, st in (("reference", "k--"), ("equino", "r:"), ("mlp", "b-.")):
        ax[0].plot(e0, np.r_[0, fe2[name]["reaction_unit_square"]], st, lw=2, label=f"FE² {name}")
    ax[0].set_xlabel("macro strain ε_xx"), ax[0].set_ylabel("reaction / N")
    ax[0].set_title("clamped specimen under tension"), ax[0].legend(fontsize=8)
    for name, st in (("reference", "k-o"), ("equino", "r--s"), ("mlp", "b:^")):
        ax[1].loglog(ns, [out["dns"][str(n)][f"{name}_fe2_rel_err_final"] for n in ns], st, label=f"FE² {name}")
    ax[1].loglog(ns, gaps[0] * ns[0] / np.array(ns, dtype=float), "g--", alpha=0.5, label="1/N")
    ax[1].set_xlabel("N (cells per side)"), ax[1].set_ylabel("|R_FE² − R_DNS| / |R_DNS| (final load)")
    ax[1].set_title("scale separation"), ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figs / "reaction.png", dpi=120)
    from firedrake.pyplot import tripcolor
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.6))
    n = max(ns)
    for i, (f, title) in enumerate(zip(fields, (f"DNS N={n}: micro σ_xx", "reference FE²: σ̄_xx (unit square)"))):
        c = tripcolor(f, axes=ax[i], cmap="viridis", vmin=0.0, vmax=float(np.percentile(fields[0].dat.data_ro, 99)))
        ax[i].set_title(title), ax[i].set_aspect("equal"), fig.colorbar(c, ax=ax[i])
    fig.tight_layout()
    fig.savefig(figs / "stress_fields.png", dpi=120)
    print(json.dumps(out["summary"], indent=1))
    print(f"wrote {a.out} and figures in {figs}/")
    return out


if __name__ == "__main__":
    main()
