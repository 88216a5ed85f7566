"""3D: -div(kappa grad u) = 1 in a unit cube with a spherical hole (gmsh tetrahedra, 3-level
hierarchy), u = 0 on all of the boundary, kappa the FNO recipe's thresholded Matérn field (12 / 3).
SPON-MG, SPON-graph, SPON-Picard (``spon_picard``: the learned polynomial iteration of
:class:`spon.processors.CoefficientPicardProcessor`, 4 Laplace-preconditioned steps starting as
Chebyshev, best epoch on a validation split of ``--n-val`` samples generated after the test and
training samples) and a masked 3D FNO (kappa on an n³ grid over the cube, the FNO paper's 3D
setting: 8 modes per direction, width 20; trilinear back to the nodes)::

    python -m benchmarks run poisson3d --quick
"""
import torch

from spon.data import DarcyProblem
from spon.fem import FENorm, GridTransfer
from spon.mesh import MeshSpec, build_hierarchy

from ..baselines import fno, spon as spon_baseline
from ..baselines.least_squares import LeastSquaresOperator
from ..harness import data_path_check, generate, name_best_spon, run_seeds, section_main, seeds_of, summary


def add_arguments(p):
    p.add_argument("--p3d-models", default="spon_picard,spon_mg,spon_graph,fno,least_squares",
                   help="models of the poisson3d section")
    p.add_argument("--n-val", type=int, default=20)
    p.add_argument("--grid3d", type=int, default=16,
                   help="grid points per side of the 3D FNO (16³ = 4096 points, more than the 3 670 FE nodes)")
    p.add_argument("--h3d", type=float, default=0.35, help="gmsh size of the 3D cube-with-hole base mesh")


def run(a, out):
    ms = MeshSpec("cube_hole", a.h3d, 2)
    prob = DarcyProblem(ms, smoothness=2.5, length_scale=0.3)
    n = a.n_test + a.n_train + a.n_val
    X, Y, data_seconds = generate(prob, n, flat=False)
    V = prob.output_space
    norm, bdofs = FENorm(V), torch.as_tensor(prob.bcs[0].nodes)
    sec = {"problem": prob.metadata(), "dofs": V.dim(), "cells": prob.mesh.num_cells(),
           "vertices_per_level": [m.num_vertices() for m in build_hierarchy(ms)],
           "data_seconds": data_seconds, "n_train": a.n_train, "n_test": a.n_test, "epochs": a.epochs,
           "n_val": a.n_val, "seeds": a.seeds, "recipe": spon_baseline.RECIPE, "runs": {}}
    procs = {"spon_mg": spon_baseline.mg(), "spon_graph": dict(spon_baseline.GRAPH)}
    grid, grid_out = GridTransfer(prob.input_space, V, n=a.grid3d), GridTransfer(V, n=a.grid3d)
    # the data path of targets and predictions (kappa in DG0 is sampled cell by cell, exactly)
    sec |= {"grid": a.grid3d, "grid_points_inside": int(grid.mask.sum()), "data_path": data_path_check(grid_out),
            "fno_settings": fno.SETTINGS["fno3d"], "fno_recipe": fno.RECIPE_3D}
    spec = {"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1},
            "encoder": "l2", "decoder": {"kind": "dirichlet", "value": 0.0}, "dtype": "float32"}
    Xtr, Ytr, Xte, Yte = X[a.n_test:-a.n_val], Y[a.n_test:-a.n_val], X[:a.n_test], Y[:a.n_test]
    Xva, Yva = X[-a.n_val:], Y[-a.n_val:]
    pp = prob.params
    picard = {"kind": "coefficient_picard", "bounds": [pp["low"], pp["high"]], "forcing": pp["forcing"], "steps": 4}
    spec_picard = {**spec, "encoder": "coefficients", "processor": picard}

    def score(m):
        pred = m.predict(Xte)
        return {"rel_l2": norm.relative_error(pred, Yte).mean().item(),
                "max_boundary_error": (pred[:, bdofs] - Yte[:, bdofs]).abs().max().item()}

    for kind in a.p3d_models.split(","):
        def make(seed, kind=kind):
            if kind == "least_squares":
                return LeastSquaresOperator(error=lambda P, Y: norm.relative_error(P, Y).mean().item())
            if kind == "fno":      # kappa sampled on the n³ grid in, trilinear back to the CG1 nodes
                return fno.GridFNO(grid, seed=seed, c=1, grid_out=grid_out, **fno.SETTINGS["fno3d"])
            if kind == "spon_picard":
                return spon_baseline.SPONModel(spec_picard, seed, lr=1e-3)
            return spon_baseline.SPONModel({**spec, "processor": procs[kind]}, seed)

        def fit(m, seed, kind=kind):
            if kind == "spon_picard":          # untrained: Chebyshev with the Laplacian, recorded once
                if "chebyshev" not in sec:
                    m.model.fit_scales(Xtr.float().reshape(len(Xtr), -1))
                    sec["chebyshev"] = score(m) | {"steps": 4, "note": "the untrained spon_picard: no learning"}
                return m.fit(Xtr, Ytr, a.epochs, desc=f"{kind} seed {seed}", val=(Xva, Yva))
            return m.fit(Xtr, Ytr, a.epochs, desc=f"{kind} seed {seed}")

        runs = run_seeds(kind, seeds_of(kind, a), make, fit, score)
        sec["runs"][kind], sec[kind] = runs, summary(runs)
        out["poisson3d"] = sec
    best = name_best_spon(sec, ("spon_mg", "spon_picard"))
    sec["target"] = {"spon_mg_rel_l2_at_most": 0.03, "best_spon": best,
                     "met": best is not None and sec["spon_mg"]["rel_l2"] <= 0.03}
    return sec


main = section_main("poisson3d", add_arguments, run, __doc__)
