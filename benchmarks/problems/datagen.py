"""Data-generation throughput: solver reuse against naive solves, and 2 ranks against 1.

* ``reuse_speedup``: Darcy (a new operator for every κ) on a ≥10k-DOF gmsh mesh:
  spon's generator with ``solver="mg"`` refills the operators of all levels
  from κ by sparse products (no assembly) and solves by CG with a geometric
  V-cycle to a relative residual of 1e-10; the naive loop calls
  ``firedrake.solve(a == L)`` per sample (new solver, assembly and MUMPS
  factorisation each time). ``solver="amg"`` (one solver, a new GAMG setup per
  sample) and ``"lu"`` (one solver, a new factorisation per sample) are
  reported next to it.
* ``poisson_reuse_speedup``: Poisson with random sources, where the operator
  is factorised once and reused for every sample.
* ``two_rank_speedup``: Darcy generation over a ``firedrake.Ensemble`` with
  ``mpiexec -n 2`` against ``-n 1`` (samples per second, barrier to barrier).

Writes ``benchmarks/results/datagen.json``.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402

from spon.data import DarcyProblem, PoissonProblem  # noqa: E402
from spon.atomic import atomic_write_json  # noqa: E402
from spon.fem import lu_parameters  # noqa: E402
from spon.ensemble import mpiexec_env  # noqa: E402
from spon.mesh import MeshSpec  # noqa: E402

HERE = Path(__file__).resolve().parents[1]   # benchmarks/
LU = lu_parameters()


def naive_poisson(prob, X):
    V = prob.input_space
    f, u = fd.Function(V), fd.Function(V)
    w, v = fd.TrialFunction(V), fd.TestFunction(V)
    for row in X:
        f.dat.data[:] = row.numpy()
        fd.solve(fd.inner(fd.grad(w), fd.grad(v)) * fd.dx == f * v * fd.dx, u, bcs=prob.bcs, solver_parameters=LU)


def naive_darcy(prob, X):
    K, V = prob.input_space, prob.output_space
    k, u = fd.Function(K), fd.Function(V)
    w, v = fd.TrialFunction(V), fd.TestFunction(V)
    for row in X:
        k.dat.data[:] = row.numpy()
        fd.solve(k * fd.inner(fd.grad(w), fd.grad(v)) * fd.dx == v * fd.dx, u, bcs=prob.bcs, solver_parameters=LU)


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=96)
    p.add_argument("--h", type=float, default=0.08, help="gmsh size of the unit square's base mesh")
    p.add_argument("--refinements", type=int, default=3)
    p.add_argument("--out", type=Path, default=HERE / "results" / "datagen.json")
    a = p.parse_args(argv)
    ms = MeshSpec("unit_square", a.h, a.refinements)
    out = {"settings": {"n": a.n, "mesh": ms.to_dict()},
           "machine": {"date": time.strftime("%Y-%m-%d"), "platform": platform.platform(), "cpus": os.cpu_count(),
                       "python": sys.version.split()[0]}}

    cases = (("poisson", PoissonProblem, {}, naive_poisson), ("darcy", DarcyProblem, {}, naive_darcy),
             ("darcy_amg", DarcyProblem, {"solver": "amg"}, naive_darcy),
             ("darcy_mg", DarcyProblem, {"solver": "mg"}, naive_darcy))
    for name, cls, params, naive in cases:
        t0 = time.perf_counter()
        prob = cls(ms, **params)
        t_setup = time.perf_counter() - t0
        X = prob.sample_inputs(a.n + 2, seed=0)
        prob.solve(X[:2], progress=False)   # warm-up: compile kernels, first factorisation
        naive(prob, X[:2])
        # side by side, in alternating halves, so drifts of this noisy machine hit both alike
        t_reuse = t_naive = 0.0
        for half in (X[2:2 + a.n // 2], X[2 + a.n // 2:]):
            t_reuse += timed(lambda: prob.solve(half, progress=False))
            t_naive += timed(naive, prob, half)
        out[name] = {"dofs": prob.output_space.dim(), "params": params, "setup_seconds": t_setup,
                     "reuse_seconds": t_reuse,
                     "naive_seconds": t_naive, "speedup": t_naive / t_reuse}
        print(name, out[name], flush=True)
    out["reuse_speedup"] = out["darcy_mg"]["speedup"]
    out["reuse_speedup_what"] = "Darcy, varying kappa: DarcyProblem(solver='mg') against a naive solve per sample"
    out["darcy_amg_reuse_speedup"] = out["darcy_amg"]["speedup"]
    out["darcy_lu_reuse_speedup"] = out["darcy"]["speedup"]
    out["poisson_reuse_speedup"] = out["poisson"]["speedup"]

    mpiexec = shutil.which("mpiexec")
    env = {**mpiexec_env(), "OMP_NUM_THREADS": "1"}
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ranks in (1, 2):
            timing = Path(tmp) / f"t{ranks}.json"
            subprocess.run([mpiexec, "-n", str(ranks), sys.executable, "-m", "spon.data.parallel",
                            "--problem", "darcy", "--h", str(a.h), "--refinements", str(a.refinements), "--n", str(a.n),
                            "--out", str(Path(tmp) / f"d{ranks}.h5"), "--timing", str(timing)],
                           env=env, check=True, capture_output=True)
            rates[ranks] = json.loads(timing.read_text())
            print(ranks, rates[ranks], flush=True)
    out["ensemble"] = {str(k): v for k, v in rates.items()}
    out["two_rank_speedup"] = rates[2]["samples_per_second"] / rates[1]["samples_per_second"]
    atomic_write_json(a.out, out)
    print(json.dumps({k: out[k] for k in ("reuse_speedup", "darcy_amg_reuse_speedup", "darcy_lu_reuse_speedup",
                                          "poisson_reuse_speedup",
                                          "two_rank_speedup")}))


if __name__ == "__main__":
    main()
