"""Darcy benchmark: SPON-MG against a tuned FNO, on a square and on an L-shape.

For each domain one dataset is generated (the FNO-recipe Darcy problem on a
gmsh mesh with a 3-level MeshHierarchy; the data live on the finest level) and
split into a test set, a validation set and a training pool. Then:

1. **Search.** Both models get the same small hyperparameter search (6
   settings each, the same epochs), trained on the training set and scored on
   the validation set; the best setting of each goes on.
2. **Seeds.** Each model is trained with its chosen setting and its own recipe
   for every seed, at equal epochs; then the faster of the two is trained again
   for the wall-clock time the slower one took (equal time). Test errors are
   reported as mean ± std over the seeds.
3. **Data-size curve** (square): both models on 50 … 800 training samples,
   each with the optimiser steps of the 200-sample run, on the same test set.

Every model is scored in the same relative FE L² norm (mass matrix) on the
same test samples. FNO sees the data the way practitioners feed it
(:class:`spon.fem.GridTransfer`): κ sampled on a regular grid over the
bounding box, x, y and a mask channel; its loss is counted inside the domain
only, and its predictions come back to the FE nodes by bilinear interpolation.

Writes ``benchmarks/results/darcy.json`` after every section::

    python -m benchmarks run darcy --quick      # ≈ 26 min on 2 cores (estimated): no search, 30 epochs
    python -m benchmarks run darcy              # the full run (see README for its time)
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from spon.atomic import atomic_write_json
from spon.data import DarcyProblem
from spon.fem import FENorm, GridTransfer
from spon.mesh import MeshSpec
from spon.models import with_mesh

from ..baselines import fno, spon as spon_baseline
from ..baselines.least_squares import RECIPE as LS_RECIPE, LeastSquaresOperator
from ..harness import RESULTS, machine, mean_std, set_threads

# κ's correlation length is 0.15 of the domain's side on both domains.
DOMAINS = {
    "square": {"mesh": "unit_square", "h": 0.2, "length_scale": 0.15, "grid": 32},
    "nonsquare": {"mesh": "l_shape", "h": 0.3, "length_scale": 0.3, "grid": 32},
}
SEARCH = {"fno": fno.SEARCH, "spon_mg": spon_baseline.SEARCH}
# without a search (--quick): the settings the full run's square search chose on 2026-11-30
DEFAULT = {"fno": dict(fno.SETTINGS["fno"]), "spon_mg": dict(spon_baseline.SETTINGS)}
RECIPE = {"fno": fno.RECIPE, "spon_mg": spon_baseline.RECIPE}


def make_model(kind, ms, hp, seed, grid=None, grid_u=None):
    """FNO (:mod:`benchmarks.baselines.fno`, on ``grid`` and ``grid_u``) or SPON-MG (on the mesh of
    ``ms``) with their own recipes."""
    if kind == "fno":
        return fno.GridFNO(grid, grid_out=grid_u, seed=seed, **hp)
    spec = {"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1},
            "encoder": "l2", "decoder": {"kind": "dirichlet", "value": 0.0, "lifting": "boundary"},
            "dtype": "float32", "processor": spon_baseline.mg(**hp)}
    return spon_baseline.SPONModel(spec, seed)


class Domain:
    """One domain's problem, data splits (test, validation, training pool) and grid maps."""

    def __init__(self, name, mesh, h, length_scale, grid, n_test, n_val, n_pool, seed=0):
        self.name, self.ms = name, MeshSpec(mesh, h, 2)
        self.prob = DarcyProblem(self.ms, length_scale=length_scale)
        t0 = time.perf_counter()
        X = self.prob.sample_inputs(n_test + n_val + n_pool, seed=seed)
        Y = self.prob.solve(X)
        self.data_seconds = time.perf_counter() - t0
        self.test = X[:n_test], Y[:n_test]
        self.val = X[n_test:n_test + n_val], Y[n_test:n_test + n_val]
        self.pool = X[n_test + n_val:], Y[n_test + n_val:]
        V = self.prob.output_space
        self.norm, self.bdofs = FENorm(V), torch.as_tensor(self.prob.bcs[0].nodes)
        self.grid = GridTransfer(self.prob.input_space, V, n=grid)
        self.grid_u = GridTransfer(V, n=grid)
        self.info = {"mesh": self.ms.to_dict(), "dofs": V.dim(), "cells": self.prob.mesh.num_cells(),
                     "problem": self.prob.metadata(), "grid": grid,
                     "grid_points_inside": int(self.grid.mask.sum()), "data_seconds": self.data_seconds,
                     "n_test": n_test, "n_val": n_val}

    def train(self, n):
        X, Y = self.pool
        if n > len(X):
            raise ValueError(f"n: expected at most {len(X)} training samples, got {n}")
        return X[:n], Y[:n]

    def make(self, kind, hp, seed):
        return make_model(kind, self.ms, hp, seed, self.grid, self.grid_u)

    def score(self, model, split):
        X, Y = split
        pred = model.predict(X)
        return {"rel_l2": self.norm.relative_error(pred, Y).mean().item(),
                "max_boundary_error": (pred[:, self.bdofs] - Y[:, self.bdofs]).abs().max().item()}

    def run(self, kind, hp, seed, n, epochs, split, desc):
        model = self.make(kind, hp, seed)
        t0 = time.perf_counter()
        model.fit(*self.train(n), epochs=epochs, desc=desc)
        seconds = time.perf_counter() - t0
        return model, self.score(model, split) | {"train_seconds": seconds, "epochs": epochs}


def least_squares_section(dom, n_train):
    """The least-squares operator on the same training and test samples (nothing random: one fit)."""
    t0 = time.perf_counter()
    op = LeastSquaresOperator(error=lambda P, Y: dom.norm.relative_error(P, Y).mean().item()).fit(*dom.train(n_train))
    secs = time.perf_counter() - t0
    return dom.score(op, dom.test) | {"train_seconds": secs, "alpha": op.alpha, "n_train": n_train,
                                      "validation": op.validation, "recipe": LS_RECIPE}


def search(dom, epochs, n_train, seed=0):
    out = {"budget": f"{len(SEARCH['fno'])} settings per model, {epochs} epochs each, seed {seed}, "
                     f"{n_train} training samples, scored on the {dom.info['n_val']} validation samples"}
    for kind, grid in SEARCH.items():
        trials = []
        for hp in grid:
            _, r = dom.run(kind, hp, seed, n_train, epochs, dom.val, desc=f"{dom.name} search {kind} {hp}")
            trials.append({"hyperparameters": hp, "val_rel_l2": r["rel_l2"], "train_seconds": r["train_seconds"]})
            print(dom.name, "search", kind, hp, f"val {r['rel_l2']:.4f}", flush=True)
        best = min(trials, key=lambda t: t["val_rel_l2"])
        out[kind] = {"trials": trials, "chosen": best["hyperparameters"],
                     "seconds": sum(t["train_seconds"] for t in trials)}
    return out


def seeds_section(dom, hps, seeds, n_train, epochs):
    runs = {k: [] for k in hps}
    keep = None
    for s in seeds:
        models = {}
        for kind, hp in hps.items():
            models[kind], r = dom.run(kind, hp, s, n_train, epochs, dom.test, desc=f"{dom.name} {kind} seed {s}")
            runs[kind].append(r)
            print(dom.name, kind, f"seed {s}", r, flush=True)
        t = {k: runs[k][-1]["train_seconds"] for k in hps}
        fast, slow = min(t, key=t.get), max(t, key=t.get)
        more = max(epochs, round(epochs * t[slow] / t[fast]))   # the faster model gets the slower one's time
        _, r = dom.run(fast, hps[fast], s, n_train, more, dom.test, desc=f"{dom.name} {fast} seed {s} equal time")
        runs[fast][-1]["equal_time"] = r
        runs[slow][-1]["equal_time"] = {k: runs[slow][-1][k] for k in ("rel_l2", "train_seconds", "epochs")}
        print(dom.name, fast, f"seed {s} equal time", r, flush=True)
        if keep is None:
            keep = models
    sec = {}
    for kind, rs in runs.items():
        m, sd = mean_std([r["rel_l2"] for r in rs])
        mt, sdt = mean_std([r["equal_time"]["rel_l2"] for r in rs])
        sec[kind] = {
            "rel_l2_mean": m, "rel_l2_std": sd, "rel_l2": [r["rel_l2"] for r in rs], "seeds": list(seeds),
            "params": keep[kind].params, "train_seconds": float(np.mean([r["train_seconds"] for r in rs])),
            "epochs": epochs, "n_train": n_train,
            "max_boundary_error": max(r["max_boundary_error"] for r in rs),
            "equal_time": {"rel_l2_mean": mt, "rel_l2_std": sdt, "rel_l2": [r["equal_time"]["rel_l2"] for r in rs],
                           "epochs": [r["equal_time"]["epochs"] for r in rs],
                           "train_seconds": float(np.mean([r["equal_time"]["train_seconds"] for r in rs]))},
            "hyperparameters": hps[kind], "recipe": RECIPE[kind],
        }
    sec["equal_time_budget"] = ("the faster model of each seed is trained again for E x T_slow / T_fast epochs, "
                                "T the wall times of the two equal-epoch runs of that seed, measured side by side; "
                                "the rerun's own wall time (train_seconds under equal_time) varies with the "
                                "machine's load")
    sec["spon_mg_over_fno"] = {"equal_epochs": sec["spon_mg"]["rel_l2_mean"] / sec["fno"]["rel_l2_mean"],
                               "equal_time": sec["spon_mg"]["equal_time"]["rel_l2_mean"]
                               / sec["fno"]["equal_time"]["rel_l2_mean"]}
    return sec, keep


def curve_section(dom, hps, sizes, seeds, n_ref, epochs, finals, known=None, save=None):
    """Test error against training-set size; every size gets the optimiser steps of the ``n_ref`` run.

    ``finals``: the square section's seeds (reused at ``n_ref``); ``known``: ``{(kind, n, seed): rel_l2}``
    from an earlier run with the same settings (reused, and said so); ``save(out)`` after every size.
    """
    known = known or {}
    out = {"sizes": list(sizes), "seeds": list(seeds),
           "budget": f"the optimiser steps of the {n_ref}-sample, {epochs}-epoch run at every size "
                     f"(epochs = {epochs} x {n_ref} / n)"}
    for kind, hp in hps.items():
        rows = out.setdefault(kind, {})
        for n in sizes:
            have = {}
            if n == n_ref and finals is not None:
                have = {s: v for v, s in zip(finals[kind]["rel_l2"], finals[kind]["seeds"]) if s in seeds}
            have |= {s: known[kind, n, s] for s in seeds if (kind, n, s) in known and s not in have}
            vals = []
            for s in seeds:
                if s not in have:
                    ep = max(1, round(epochs * n_ref / n))
                    have[s] = dom.run(kind, hp, s, n, ep, dom.test, desc=f"curve {kind} n={n} seed {s}")[1]["rel_l2"]
                vals.append(have[s])
            m, sd = mean_std(vals)
            rows[str(n)] = {"rel_l2_mean": m, "rel_l2_std": sd, "rel_l2": vals}
            reused = sorted(s for s in seeds if (kind, n, s) in known or (n == n_ref and finals is not None))
            if reused:
                rows[str(n)]["reused_seeds"] = reused
            print("curve", kind, n, rows[str(n)], flush=True)
            if save is not None:
                save(out)
    return out


def prior_results(prior, epochs, n_train):
    """Seeds' results of an earlier darcy.json run with the same epochs and n_train:
    the square section's ``finals`` and the data-size curve's ``{(kind, n, seed): rel_l2}``."""
    st = prior.get("settings", {})
    if st.get("epochs") != epochs or st.get("n_train") != n_train:
        return None, {}
    finals = ({k: prior["square"][k] for k in SEARCH} if "square" in prior else None)
    known = {}
    curve = prior.get("data_size_curve", {})
    for kind in SEARCH:
        for n, row in curve.get(kind, {}).items():
            for s, v in zip(curve["seeds"], row["rel_l2"]):
                known[kind, int(n), s] = v
    return finals, known


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="≈ 26 min: no search (the full run's choice), 30 epochs, "
                                                        "curve on one seed")
    p.add_argument("--sections", default="square,nonsquare,curve",
                   help="square, nonsquare, curve; or least_squares alone: the least-squares row of both "
                        "domains, added to --out")
    p.add_argument("--search-domains", default=None,
                   help="domains that run the search (default: all, none with --quick); the others use the "
                        "square's choice if it ran, else the defaults")
    p.add_argument("--search-from", type=Path, default=None,
                   help="a darcy.json whose square search chose the settings (for a section run on its own)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--n-val", type=int, default=50)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--epochs", type=int, default=None, help="default 100 (30 with --quick)")
    p.add_argument("--search-epochs", type=int, default=None, help="default epochs / 2")
    p.add_argument("--curve-sizes", default="50,100,200,400,800")
    p.add_argument("--curve-seeds", default=None, help="default: --seeds (the first with --quick)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: what OMP_NUM_THREADS gives torch); recorded in the JSON")
    p.add_argument("--out", type=Path, default=RESULTS / "darcy.json")
    a = p.parse_args(argv)
    a.epochs = a.epochs or (30 if a.quick else 100)
    a.search_epochs = a.search_epochs or max(1, a.epochs // 2)
    sections = a.sections.split(",")
    search_domains = (a.search_domains.split(",") if a.search_domains is not None
                      else ([] if a.quick else list(DOMAINS)))
    seeds = [int(s) for s in a.seeds.split(",")]
    curve_seeds = ([int(s) for s in a.curve_seeds.split(",")] if a.curve_seeds
                   else (seeds[:1] if a.quick else seeds))
    sizes = [int(n) for n in a.curve_sizes.split(",")]
    threads = set_threads(a.threads)
    t_start = time.perf_counter()

    out = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
           | {"search_domains": search_domains, "curve_seeds": curve_seeds,
              "metric": "relative FE L2 error (mass matrix) on the test set, mean over test samples"},
           "machine": machine(threads) | {"torch_threads": threads}}

    def save():
        out["total_seconds"] = time.perf_counter() - t_start
        atomic_write_json(a.out, out)
        print(f"wrote {a.out} ({out['total_seconds']:.0f} s)", flush=True)

    if sections == ["least_squares"]:       # one more row in an existing darcy.json, same data
        prior = json.loads(a.out.read_text()) if a.out.is_file() else out
        for name in DOMAINS:
            # the pool of the run that made --out (the square's held the data-size curve's samples too),
            # so the same seed gives the same test and training samples
            pool = max(a.n_train, max(sizes)) if name == "square" else a.n_train
            dom = Domain(name, **DOMAINS[name], n_test=a.n_test, n_val=a.n_val, n_pool=pool)
            if name in prior and prior[name]["domain"]["dofs"] != dom.info["dofs"]:
                raise ValueError(f"--out: its {name} section was made on another mesh")
            prior.setdefault(name, {"domain": dom.info})["least_squares"] = least_squares_section(dom, a.n_train)
            print(name, "least_squares", prior[name]["least_squares"]["rel_l2"], flush=True)
            atomic_write_json(a.out, prior)
        return prior
    chosen = {}
    if a.search_from is not None:
        prior = json.loads(a.search_from.read_text())
        try:
            chosen = {k: prior["square"]["search"][k]["chosen"] for k in SEARCH}
        except KeyError:
            raise ValueError(f"--search-from: {a.search_from} has no square search") from None
    for name in ("square", "nonsquare"):
        if name not in sections and not (name == "square" and "curve" in sections):
            continue
        pool = max(a.n_train, max(sizes) if (name == "square" and "curve" in sections) else 0)
        dom = Domain(name, **DOMAINS[name], n_test=a.n_test, n_val=a.n_val, n_pool=pool)
        sec = {"domain": dom.info}
        if name in search_domains:
            sec["search"] = search(dom, a.search_epochs, a.n_train)
            hps = {k: sec["search"][k]["chosen"] for k in SEARCH}
            chosen = chosen or hps
        else:
            hps = chosen or DEFAULT
            sec["hyperparameters_from"] = "the square's search" if chosen else "defaults (no search)"
        finals = None
        if name in sections:
            finals, models = seeds_section(dom, hps, seeds, a.n_train, a.epochs)
            sec.update(finals)
            if name == "square":
                mg_fine = with_mesh(models["spon_mg"].model, dom.ms.refined().to_dict())
                fine = DarcyProblem(dom.ms.refined(), length_scale=DOMAINS[name]["length_scale"])
                Xf = fine.sample_inputs(a.n_test, seed=1000)
                Yf = fine.solve(Xf)
                with torch.no_grad():
                    pf = torch.cat([mg_fine(x.float()) for x in Xf.split(32)]).double()
                sec["spon_mg_on_refined_mesh"] = {
                    "rel_l2": FENorm(fine.output_space).relative_error(pf, Yf).mean().item(),
                    "dofs": fine.output_space.dim(), "seed": seeds[0],
                    "note": "the seed-0 SPON-MG applied without retraining on the once-refined mesh"}
            out[name] = sec
            save()
        if name == "square" and "curve" in sections:
            known = {}
            if a.search_from is not None and finals is None:
                finals, known = prior_results(prior, a.epochs, a.n_train)

            def save_curve(c):
                out["data_size_curve"] = c
                save()
            curve_section(dom, hps, sizes, curve_seeds, a.n_train, a.epochs, finals, known, save_curve)

    targets = {}
    if "square" in out:
        r = out["square"]["spon_mg_over_fno"]["equal_epochs"]
        targets["square_spon_mg_over_fno"] = {"measured": r, "target": 0.7, "met": r <= 0.7}
    if "nonsquare" in out:
        r = out["nonsquare"]["spon_mg_over_fno"]["equal_epochs"]
        targets["nonsquare_spon_mg_over_fno"] = {"measured": r, "target": 0.5, "met": r <= 0.5}
    out["targets"] = targets
    save()
    return out


if __name__ == "__main__":
    main()
