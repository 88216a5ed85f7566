"""What every benchmark shares: threads, the seed loop, timing, summaries, JSON results.

A model in a benchmark follows one small protocol (:class:`Model`): ``fit(X, Y,
epochs, desc)`` returns the model, ``predict(X)`` the predictions on the output
space's DOFs (float64), ``params`` counts its weights and ``recipe`` says in
words how it was trained. :func:`run_seeds` trains and scores one kind for
every seed; :func:`summary` turns the runs into the mean ± std a table prints;
:class:`Results` keeps a result file up to date after every section, atomically.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Protocol

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


class Model(Protocol):
    params: int
    recipe: str

    def fit(self, X, Y, epochs: int, desc: str = "") -> "Model": ...

    def predict(self, X): ...


def set_threads(threads: int | None) -> int:
    """torch's thread count: ``threads`` if given, else what the user's ``OMP_NUM_THREADS``
    already gave torch (never more). Returns the count, for the JSON record."""
    import torch

    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads: expected at least 1, got {threads}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def machine(threads: int) -> dict:
    import torch

    return {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
            "torch": torch.__version__, "threads": threads, "date": time.strftime("%Y-%m-%d")}


def parameter_count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def run_seeds(kind: str, seeds, make: Callable, fit: Callable, score: Callable, log=print) -> list:
    """For each seed: ``m = make(seed)``, ``fit(m, seed)`` (timed), then ``score(m)``, a dict.

    Returns one record per seed: ``seed``, the score, ``train_seconds`` and ``params``."""
    runs = []
    for seed in seeds:
        m = make(seed)
        t0 = time.perf_counter()
        m = fit(m, seed) or m
        secs = time.perf_counter() - t0
        runs.append({"seed": seed, **score(m), "train_seconds": secs, "params": m.params})
        log(kind, {k: v for k, v in runs[-1].items() if not isinstance(v, list)}, flush=True)
    return runs


def generate(prob, n: int, flat: bool = True, seed: int = 0):
    """``(X, Y, seconds)``: ``n`` inputs of a :mod:`spon.data` problem (rows flattened with ``flat``),
    their FE solutions, and the time both took."""
    t0 = time.perf_counter()
    X = prob.sample_inputs(n, seed=seed)
    X = X.reshape(n, -1) if flat else X
    Y = prob.solve(X)
    return X, Y, time.perf_counter() - t0


def seeds_of(kind: str, a) -> list:
    """The seeds a kind trains for: one for the least-squares operator (nothing in it is random)."""
    return a.seed_list[:1] if kind == "least_squares" else a.seed_list


def mean_std(values):
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def summary(runs, *maxima) -> dict:
    """Mean ± std of the seeds' ``rel_l2``, the worst boundary error (and ``maxima``), mean time."""
    r = np.array([x["rel_l2"] for x in runs])
    return {"rel_l2": float(r.mean()), "rel_l2_std": float(r.std(ddof=1)) if len(r) > 1 else None,
            **{k: max(x[k] for x in runs) for k in (*maxima, "max_boundary_error")},
            "train_seconds": float(np.mean([x["train_seconds"] for x in runs])), "params": runs[0]["params"]}


def validation_tail(curve) -> list:
    """``[min, max]`` of the validation error over the last 10 % of epochs: a narrow range says the run
    has converged."""
    k = max(1, len(curve) // 10)
    return [min(curve[-k:]), max(curve[-k:])]


def name_best_spon(sec: dict, candidates) -> str | None:
    """Put the best SPON model of a section (least mean ``rel_l2`` among ``candidates``) under
    ``spon_mg``, named in its ``model`` field; the plain multigrid V-cycle's row, which the kind
    ``spon_mg`` trains, moves to ``spon_mg_vcycle`` (its runs too). Returns the best one's key."""
    if "spon_mg" in sec.get("runs", {}):
        sec["runs"]["spon_mg_vcycle"] = sec["runs"].pop("spon_mg")
        sec["spon_mg_vcycle"] = sec.pop("spon_mg")
    have = [k if k != "spon_mg" else "spon_mg_vcycle" for k in candidates]
    have = [k for k in have if isinstance(sec.get(k), dict) and "rel_l2" in sec[k]]
    if not have:
        return None
    best = min(have, key=lambda k: sec[k]["rel_l2"])
    sec["spon_mg"] = {"model": best, **sec[best]}
    sec.pop("spon_mg_best", None)
    return best


# what must agree for runs on the same data to share one section
SAME_DATA = ("n_train", "n_test", "problem", "mesh", "dofs", "velocity_dofs", "ns_train", "ns_test")


def merge_section(old: dict, new: dict, key: str) -> dict:
    """``old`` with the models of ``new`` put in (their runs and summaries) and the rest kept:
    a model added to a table without rerunning the others. Refused unless the data agree."""
    differ = [k for k in SAME_DATA if k in old and k in new and old[k] != new[k]]
    if differ:
        raise ValueError(f"--merge: the {key!r} section in the result file was made on other data "
                         f"({', '.join(differ)} differ); write to another --out")
    out = {**old, "runs": {**old.get("runs", {}), **new.get("runs", {})}}
    for kind in new.get("runs", {}):
        out[kind] = new[kind]
    stamp = {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform()}
    out["merged"] = {**old.get("merged", {}), **{kind: stamp for kind in new.get("runs", {})}}
    return out


class Results:
    """A JSON result file, read if it exists, written atomically after every change. Sections
    named in ``merge`` take new models into what the file held (:func:`merge_section`)."""

    def __init__(self, path, merge=()):
        self.path = Path(path)
        self.data = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.loaded, self.merge, self.touched = dict(self.data), set(merge), set()

    def __getitem__(self, key):
        return self.data[key]

    def __setitem__(self, key, value):
        if key in self.merge and isinstance(self.loaded.get(key), dict):
            value = merge_section(self.loaded[key], value, key)
        self.data[key] = value
        self.touched.add(key)
        self.save()

    def __contains__(self, key):
        return key in self.data

    def get(self, key, default=None):
        return self.data.get(key, default)

    def save(self):
        """Write the keys this run set over what the file holds now: two runs writing other sections of
        one file (two problems side by side) keep each other's."""
        from spon.atomic import atomic_write_json

        now = json.loads(self.path.read_text()) if self.path.is_file() else {}
        atomic_write_json(self.path, {**now, **{k: self.data[k] for k in self.touched}} if self.touched
                          else {**now, **self.data})


def data_path_check(grid) -> dict:
    """A linear field survives FE → grid (inside) and grid → FE (at every node of the output space)
    exactly, in 2D or 3D: the maps every grid baseline sees its data through."""
    import firedrake as fd
    import torch

    coef = (0.3, -0.2, 0.1)[:grid.dim]

    def lin(S):
        X = fd.SpatialCoordinate(S.mesh())
        return torch.as_tensor(fd.Function(S).interpolate(1 + sum(c * xi for c, xi in zip(coef, X)))
                               .dat.data_ro.copy())[None]

    coords = np.meshgrid(*grid.axes[::-1], indexing="ij")[::-1]
    exact = torch.as_tensor(1 + sum(c * g for c, g in zip(coef, coords)))
    to = (grid.to_grid_values(lin(grid.U))[0] - exact)[grid.mask].abs().max().item()
    back = (grid.from_grid_values(exact[None]) - lin(grid.V)).abs().max().item()
    return {"fe_to_grid_inside": to, "grid_to_fe": back}


def l2_project_rows(Y, V, W):
    """Each row of ``Y`` (a function on ``V``) L²-projected onto ``W`` (one LU factorisation)."""
    import firedrake as fd
    import torch

    w, v = fd.TrialFunction(W), fd.TestFunction(W)
    proj = fd.LinearSolver(fd.assemble(fd.inner(w, v) * fd.dx), solver_parameters={"ksp_type": "preonly",
                                                                                      "pc_type": "lu"})
    u, x = fd.Function(V), fd.Function(W)
    T = torch.empty(len(Y), W.dim(), dtype=torch.float64)
    for i in range(len(Y)):
        u.dat.data[:] = Y[i].reshape(u.dat.data.shape).numpy()
        proj.solve(x, fd.assemble(fd.inner(u, v) * fd.dx))
        T[i] = torch.as_tensor(x.dat.data_ro)
    return T


def section_parser(description: str) -> argparse.ArgumentParser:
    """The options every SPON-paper section takes (its own come on top)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="1 seed, 100 training samples, 30 epochs")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed … first-seed + seeds - 1 (to add seeds to an earlier run, in another file)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: what OMP_NUM_THREADS gives torch); recorded in the JSON")
    p.add_argument("--out", type=Path, default=RESULTS / "spon_paper.json")
    p.add_argument("--merge", action="store_true",
                   help="add the models run now to the section in --out (same data), keeping the others")
    return p


def section_main(name: str, add_arguments: Callable, run: Callable, doc: str) -> Callable:
    """``main(argv)`` of one section of ``spon_paper.json``: parse, run, record under ``name``."""
    def main(argv=None):
        p = section_parser(doc.split("\n\n")[0])
        add_arguments(p)
        a = p.parse_args(argv)
        a.n_train = a.n_train or (100 if a.quick else 200)
        a.epochs = a.epochs or (30 if a.quick else 60)
        a.seeds = a.seeds or (1 if a.quick else 3)
        a.seed_list = list(range(a.first_seed, a.first_seed + a.seeds))
        threads = set_threads(a.threads)
        out = Results(a.out, merge=[name] if a.merge else ())
        if not a.merge:             # a merged model records its machine beside its date
            out["machine"] = machine(threads)
            out["metric"] = "relative FE L2 error on the same test samples, mean over seeds"
        t0 = time.perf_counter()
        sec = run(a, out)
        if not a.merge:
            out[name] = sec | {"total_seconds": time.perf_counter() - t0}
        for k, v in sec.items():
            if isinstance(v, dict) and "rel_l2" in v and "max_boundary_error" in v:
                print(f"{name} {k:16s} rel L2 {v['rel_l2']:.4f} ± {v.get('rel_l2_std') or 0:.4f}  "
                      f"max boundary error {v['max_boundary_error']:.1e}")
        print(f"wrote {a.out} ({time.perf_counter() - t0:.0f} s)")
        return out.data
    main.__doc__ = doc
    return main
