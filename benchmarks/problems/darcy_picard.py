"""Darcy with the learned polynomial iteration (``coefficient_picard``), rows added to ``darcy.json``.

On the Darcy benchmark's own data (same domains, seeds, splits and training samples as
``benchmarks/problems/darcy.py``) this trains SPON with the ``coefficients`` encoder of κ, the
:class:`spon.processors.CoefficientPicardProcessor` (``--steps`` Laplace-preconditioned steps whose
pointwise updates are learned, starting as Chebyshev for κ ∈ [3, 12]) and the Dirichlet decoder, for
the optimiser steps of the FNO rows already in the file (60 epochs of 200 samples at batch 20: 600
steps), best validation epoch kept, 3 seeds. Beside it, with no learning, the same number of
Chebyshev steps (the untrained model) and of plain Richardson steps. Writes ``<domain>.spon_picard``,
``<domain>.chebyshev``, ``<domain>.spon_picard_over_fno`` and ``targets.*_spon_picard_over_fno``::

    python -m benchmarks run darcy_picard
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from spon.atomic import atomic_write_json

from ..baselines import spon as spon_baseline
from ..harness import RESULTS, machine, mean_std, set_threads, validation_tail
from .darcy import DOMAINS, Domain

RECIPE = ("SPON's recipe (AdamW, weight decay 1e-4, one-cycle, batch 16, relative FE L2 loss) at lr 1e-3; "
          "encoder 'coefficients' (kappa in DG0), processor 'coefficient_picard' (u_k+1 = u1 + A0^-1 D^T W tau_k, "
          "A0 the Laplace stiffness, exact inverse; tau_k = a_k grad u_k + c_k kappa grad u_k + e_k grad u1 + "
          "MLP_k(kappa, grad u_k, grad u1), width 64, 2 hidden GELU layers; a, c, e start as Chebyshev for "
          "kappa in [3, 12], the MLPs at zero), Dirichlet decoder; best validation epoch")


def spec(dom, steps):
    p = dom.prob.params
    return {"mesh": dom.ms.to_dict(), "input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1},
            "encoder": "coefficients", "decoder": {"kind": "dirichlet", "value": 0.0}, "dtype": "float32",
            "processor": {"kind": "coefficient_picard", "bounds": [p["low"], p["high"]], "forcing": p["forcing"],
                          "steps": steps}}


def richardson(model, X, steps):
    """Plain Richardson with the Laplacian, ``ω = 2 / (low + high)``: the iteration with no acceleration,
    ``u ← u + ω A₀⁻¹ (b − A(κ) u)`` from ``u₀ = ω A₀⁻¹ b`` (the processor's start), in float64."""
    from spon.fem.sparse import spmv

    proc = model.model.processor
    D, Dt, w, I, A0inv, u1 = (getattr(proc, k).double() for k in ("D", "Dt", "w", "I", "inverse", "u1"))
    lo, hi = proc.hparams["bounds"]
    kq = spmv(I, X.double())
    u = u1.expand(len(X), -1) * (2 / (lo + hi))
    for _ in range(steps):
        g = spmv(D, u).reshape(len(X), -1, proc.n_grad)
        Au = spmv(Dt, (kq[..., None] * g * w[:, None]).reshape(len(X), -1))
        u = u + 2 / (lo + hi) * (u1 - Au @ A0inv.T)
    return u


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domains", default="square,nonsquare")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=4, help="iterations of the processor (each one Laplace solve)")
    p.add_argument("--optimiser-steps", type=int, default=600, help="the FNO rows' steps (60 epochs x 10)")
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--n-val", type=int, default=50)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--pools", default="800,200", help="each domain's training pool in darcy.json's run")
    p.add_argument("--sizes", default=None, help="a data-size curve on the square instead (e.g. 50,100,200,400,800; "
                   "each size the same optimiser steps), written to data_size_curve.spon_picard")
    p.add_argument("--fno-epochs", type=int, default=None,
                   help="also train the FNO (its own recipe, best validation epoch) for this many epochs, and "
                        "SPON-Picard for the same optimiser steps: rows fno_long and spon_picard_long")
    p.add_argument("--models", default="spon_picard,fno", help="with --fno-epochs: which of the two to train")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=RESULTS / "darcy.json")
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    out = json.loads(a.out.read_text()) if a.out.is_file() else {}
    seeds = [int(s) for s in a.seeds.split(",")]
    if a.sizes:
        return curve(a, out, seeds, threads)
    if a.fno_epochs:
        return long_runs(a, out, seeds, threads)
    for name, pool in zip(a.domains.split(","), [int(x) for x in a.pools.split(",")]):
        t0 = time.perf_counter()
        dom = Domain(name, **DOMAINS[name], n_test=a.n_test, n_val=a.n_val, n_pool=max(pool, a.n_train))
        sec = out.setdefault(name, {"domain": dom.info})
        if sec["domain"]["dofs"] != dom.info["dofs"]:
            raise ValueError(f"--out: its {name} section was made on another mesh")
        Xtr, Ytr = dom.train(a.n_train)
        epochs = max(1, round(a.optimiser_steps / -(-a.n_train // 16)))
        runs, curves = [], []
        for seed in seeds:
            m = spon_baseline.SPONModel(spec(dom, a.steps), seed, lr=1e-3)
            if not runs:            # no learning: the untrained model is Chebyshev; plain Richardson beside it
                m.model.fit_scales(Xtr.float(), Ytr.float())
                sec["chebyshev"] = dom.score(m, dom.test) | {"steps": a.steps, "note": "the untrained model: "
                                                             "Chebyshev preconditioned by the Laplacian"}
                P = richardson(m, dom.test[0], a.steps)
                sec["richardson"] = {"rel_l2": dom.norm.relative_error(P, dom.test[1]).mean().item(),
                                     "steps": a.steps}
            t1 = time.perf_counter()
            m.fit(Xtr, Ytr, epochs, desc=f"{name} picard {seed}", val=dom.val)
            secs = time.perf_counter() - t1
            runs.append(dom.score(m, dom.test) | {"seed": seed, "train_seconds": secs,
                                                   "best_epoch": m.history["best_epoch"]})
            curves.append(validation_tail(m.history["test_rel"]))
            print(name, "spon_picard", runs[-1], flush=True)
        mean, std = mean_std([r["rel_l2"] for r in runs])
        sec["spon_picard"] = {"rel_l2_mean": mean, "rel_l2_std": std, "rel_l2": [r["rel_l2"] for r in runs],
                              "seeds": seeds, "epochs": epochs, "optimiser_steps": epochs * -(-a.n_train // 16),
                              "iterations": a.steps, "n_train": a.n_train, "params": m.params,
                              "max_boundary_error": max(r["max_boundary_error"] for r in runs),
                              "train_seconds": float(np.mean([r["train_seconds"] for r in runs])),
                              "best_epochs": [r["best_epoch"] for r in runs], "val_last_10pct": curves,
                              "recipe": RECIPE, "seconds": time.perf_counter() - t0, "machine": machine(threads)}
        if "fno" in sec:
            ratio = mean / sec["fno"]["rel_l2_mean"]
            sec["spon_picard_over_fno"] = ratio
            bound = 0.7 if name == "square" else 0.5
            out.setdefault("targets", {})[f"{name}_spon_picard_over_fno"] = {
                "ratio": ratio, "at_most": bound, "met": ratio <= bound,
                "fno_steps": sec["fno"]["epochs"] * -(-sec["fno"]["n_train"] // 20)}
        atomic_write_json(a.out, out)
        print(f"wrote {a.out}", flush=True)
    return out


def long_runs(a, out, seeds, threads):
    """The FNO with its own recipe for ``--fno-epochs`` epochs (batch 20) and SPON-Picard for the same
    optimiser steps (batch 16), both keeping their best validation epoch, 3 seeds: equal steps, both run
    until their validation curves are flat (``val_last_10pct``)."""
    from ..baselines import fno

    models = a.models.split(",")
    for name, pool in zip(a.domains.split(","), [int(x) for x in a.pools.split(",")]):
        dom = Domain(name, **DOMAINS[name], n_test=a.n_test, n_val=a.n_val, n_pool=max(pool, a.n_train))
        sec = out.setdefault(name, {"domain": dom.info})
        if sec["domain"]["dofs"] != dom.info["dofs"]:
            raise ValueError(f"--out: its {name} section was made on another mesh")
        Xtr, Ytr = dom.train(a.n_train)
        err = lambda P, Y: dom.norm.relative_error(P, Y).mean().item()
        steps = a.fno_epochs * -(-a.n_train // 20)
        hp = sec.get("fno", {}).get("hyperparameters", fno.SETTINGS["fno"])
        for kind in models:
            runs = []
            for seed in seeds:
                t1 = time.perf_counter()
                if kind == "fno":
                    m = dom.make("fno", hp, seed).fit(Xtr, Ytr, a.fno_epochs, desc=f"{name} fno {seed}",
                                                      val=(*dom.val, err))
                    hist, epochs = m.history["val_rel"], a.fno_epochs
                else:
                    epochs = max(1, round(steps / -(-a.n_train // 16)))
                    m = spon_baseline.SPONModel(spec(dom, a.steps), seed, lr=1e-3)
                    m.fit(Xtr, Ytr, epochs, desc=f"{name} picard {seed}", val=dom.val)
                    hist = m.history["test_rel"]
                runs.append(dom.score(m, dom.test) | {"seed": seed, "train_seconds": time.perf_counter() - t1,
                                                       "best_epoch": m.history["best_epoch"],
                                                       "val_last_10pct": validation_tail(hist), "val_curve": hist})
                print(name, kind, {k: v for k, v in runs[-1].items() if k != "val_curve"}, flush=True)
            mean, std = mean_std([r["rel_l2"] for r in runs])
            batch = 20 if kind == "fno" else 16
            sec[f"{kind}_long"] = {
                "rel_l2_mean": mean, "rel_l2_std": std, "rel_l2": [r["rel_l2"] for r in runs], "seeds": seeds,
                "epochs": epochs, "optimiser_steps": epochs * -(-a.n_train // batch), "n_train": a.n_train,
                "max_boundary_error": max(r["max_boundary_error"] for r in runs),
                "train_seconds": float(np.mean([r["train_seconds"] for r in runs])),
                "best_epochs": [r["best_epoch"] for r in runs], "val_last_10pct": [r["val_last_10pct"] for r in runs],
                "val_curves": [r["val_curve"] for r in runs],
                "recipe": fno.RECIPE if kind == "fno" else RECIPE, "machine": machine(threads)}
            if kind == "fno":
                sec["fno_long"]["hyperparameters"] = hp
            atomic_write_json(a.out, out)
        if "fno_long" in sec and "spon_picard_long" in sec:
            ratio = sec["spon_picard_long"]["rel_l2_mean"] / sec["fno_long"]["rel_l2_mean"]
            bound = 0.7 if name == "square" else 0.5
            out.setdefault("targets", {})[f"{name}_spon_picard_over_fno_long"] = {
                "ratio": ratio, "at_most": bound, "met": ratio <= bound,
                "optimiser_steps": {k: sec[f"{k}_long"]["optimiser_steps"] for k in ("fno", "spon_picard")}}
        atomic_write_json(a.out, out)
        print(f"wrote {a.out}", flush=True)
    return out


def curve(a, out, seeds, threads):
    """SPON-Picard on the square's first n pool samples, n in ``--sizes``, each with the same optimiser steps."""
    sizes = [int(n) for n in a.sizes.split(",")]
    dom = Domain("square", **DOMAINS["square"], n_test=a.n_test, n_val=a.n_val, n_pool=max(sizes))
    c = out.setdefault("data_size_curve", {})
    rows = {}
    for n in sizes:
        epochs = max(1, round(a.optimiser_steps / -(-n // 16)))
        errs = []
        for seed in seeds:
            m = spon_baseline.SPONModel(spec(dom, a.steps), seed, lr=1e-3)
            m.fit(*dom.train(n), epochs, desc=f"picard n={n} {seed}", val=dom.val)
            errs.append(dom.score(m, dom.test)["rel_l2"])
        mean, std = mean_std(errs)
        rows[str(n)] = {"rel_l2_mean": mean, "rel_l2_std": std, "rel_l2": errs, "epochs": epochs,
                        "optimiser_steps": epochs * -(-n // 16)}
        print("square picard", n, rows[str(n)], flush=True)
    c["spon_picard"] = rows
    c["spon_picard_note"] = (f"SPON-Picard ({a.steps} learned steps), seeds {seeds}, about {a.optimiser_steps} "
                             "optimiser steps at every size, best validation epoch; " + machine(threads)["platform"])
    atomic_write_json(a.out, out)
    return out


if __name__ == "__main__":
    main()
