"""FE² against direct numerical simulation at finite strain, for growing N (``dns.py`` at finite strain).

The specimen is N × N copies of the fibre RVE (the RVE's own mesh, tiled), clamped
at x = 0 and stretched along x at x = N to the macro stretch ``1 + --strain`` in
``--steps`` steps, with the finite-strain phases of ``fe2_finite_strain.py``
(Mooney–Rivlin matrix, neo-Hookean fibres). The DNS resolves every fibre
(:class:`~spon.multiscale.dns.FiniteStrainDNSProblem`); reference FE² solves the
homogenised unit square once (one finite-strain cell problem per quadrature point
and Newton iteration). The homogenised problem is self-similar at finite strain too
(``u_N(X) = N u_1(X/N)`` keeps ``F``), so its reaction for side N is N times the unit
square's. Scale separation says the gap closes as N grows.

Writes ``benchmarks/results/dns_finite_strain.json`` and ``dns/reaction_finite_strain.png``.

    python -m benchmarks run dns_finite_strain          # about 25 min on one core
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from spon.atomic import atomic_write_json  # noqa: E402
from spon.mesh import gmsh_mesh, rve_mesh, rve_msh, tile_rve_msh  # noqa: E402
from spon.multiscale import FiniteStrainRVEProblem  # noqa: E402
from spon.multiscale.dns import FiniteStrainDNSProblem  # noqa: E402
from spon.multiscale.total_lagrangian import FiniteStrainFE2Material, FiniteStrainMacroProblem  # noqa: E402

from .fe2_finite_strain import PHASES  # noqa: E402

HERE = Path(__file__).resolve().parents[1]   # benchmarks/


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ns", default="2,4,8", help="specimen sizes N (cells per side)")
    p.add_argument("--rve-h", type=float, default=0.1)
    p.add_argument("--strain", type=float, default=0.15, help="final macro stretch - 1 along x")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--macro-h", type=float, default=0.5, help="gmsh size of the homogenised unit square")
    p.add_argument("--out", type=Path, default=HERE / "results" / "dns_finite_strain.json")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t_all = time.perf_counter()
    ns = [int(n) for n in a.ns.split(",")]
    strains = np.linspace(0, a.strain, a.steps + 1)[1:]
    out = {"machine": platform.platform(), "python": sys.version.split()[0], "threads": 1,
           "setup": {"rve": {"kind": "fibre", "h": a.rve_h, "degree": 2,
                             "phases": {k: [type(m).__name__, m.params()] for k, m in PHASES.items()}},
                     "specimen": "N x N tiled RVEs, clamped at x = 0, u_x = N strain at x = N (u_y free); "
                                 "plane strain, total Lagrangian",
                     "macro_stretch_minus_one": strains.tolist(),
                     "fe2_mesh": {"mesh": "clamped_square", "h": a.macro_h, "degree": 2},
                     "self_similarity": "FE² solved once on the unit square; the N-specimen's homogenised "
                                        "reaction is N times it (u_N(X) = N u_1(X / N) keeps F)"}}

    def save():
        out["total_seconds"] = time.perf_counter() - t_all
        atomic_write_json(a.out, out, indent=1)

    rve = FiniteStrainRVEProblem(rve_mesh("fibre", h=a.rve_h), PHASES)
    mat = FiniteStrainFE2Material(rve, progress=True)
    mp = FiniteStrainMacroProblem(gmsh_mesh("clamped_square", h=a.macro_h), mat, clamped=1, loaded=2, direction=0)
    t0 = time.perf_counter()
    mp.solve(strains)
    out["fe2"] = {"reaction_unit_square": [s.reaction for s in mp.history], "seconds": time.perf_counter() - t0,
                  "micro_dofs": rve.dofs, "quadrature_points": mp.n_quadrature_points,
                  "stretch_max": mp.stretch_max, **mat.stats()}
    print("FE²", out["fe2"]["reaction_unit_square"], flush=True)
    save()
    out["dns"] = {}
    for n in ns:
        t0 = time.perf_counter()
        spec = fd.Mesh(str(tile_rve_msh(rve_msh("fibre", h=a.rve_h), n)), name=f"dns{n}")
        dns = FiniteStrainDNSProblem(spec, PHASES)
        R = np.array([s.reaction for s in dns.solve(n * strains)])
        Rf = n * np.array(out["fe2"]["reaction_unit_square"])
        err = np.abs(Rf - R) / np.abs(R)
        out["dns"][str(n)] = {"dofs": dns.V.dim(), "seconds": time.perf_counter() - t0, "reaction": R.tolist(),
                              "reaction_per_width": (R / n).tolist(),
                              "newton_iterations": [len(s.residuals) for s in dns.history],
                              "fe2_rel_err": err.tolist(), "fe2_rel_err_final": float(err[-1])}
        print(f"N={n}: {dns.V.dim()} DOFs, gap {err[-1]:.4f}", flush=True)
        save()
    gaps = [out["dns"][str(n)]["fe2_rel_err_final"] for n in ns]
    out["summary"] = {"basis": "|R_FE2 - R_DNS| / |R_DNS| at the final load",
                      "fe2_rel_err_final": dict(zip(map(str, ns), gaps)),
                      "decreasing_in_n": bool(np.all(np.diff(gaps) < 0))}
    if len(ns) > 1:
        out["summary"]["gap_rate_in_n"] = float(np.polyfit(np.log(ns), np.log(gaps), 1)[0])
    save()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figs = a.out.parent / "dns"
    figs.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    e0 = np.r_[0, strains]
    for n in ns:
        ax.plot(e0, np.r_[0, out["dns"][str(n)]["reaction_per_width"]], "-o", label=f"DNS N={n}")
    ax.plot(e0, np.r_[0, out["fe2"]["reaction_unit_square"]], "k--", lw=2, label="reference FE²")
    ax.set_xlabel("macro stretch − 1"), ax.set_ylabel("reaction / N"), ax.legend()
    ax.set_title("finite strain: DNS approaches FE² as N grows")
    fig.tight_layout()
    fig.savefig(figs / "reaction_finite_strain.png", dpi=120)
    plt.close(fig)
    print(f"wrote {a.out}")
    return out


if __name__ == "__main__":
    main()
