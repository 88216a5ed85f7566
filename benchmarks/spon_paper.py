"""The SPON paper's problems, beyond Darcy: SPON-MG, SPON-graph and an external baseline.

Section ``hyperelasticity`` (the SPON paper's third problem): plane-strain
compressible neo-Hookean Cook's membrane, clamped on the left, under a random
body force (two Matérn components, :class:`spon.data.HyperelasticityProblem`,
Newton with 4 load steps); output the displacement in [CG1]² on the finest
level of a 3-level hierarchy. Models:

* SPON-MG: L2-projection encoder, V-cycle processor over the hierarchy with
  the two displacement components as node-blocked channels, Dirichlet decoder
  (the clamped DOFs exactly zero);
* SPON-MG-Green: SPON-MG whose decoder maps the processor's output through the
  Green's operator of linear elasticity (``interior="inverse_elasticity"``);
* SPON-graph: the same with a message-passing processor on the finest DOF graph;
* FNO (neuraloperator, its own recipe as in ``benchmarks/darcy.py``): f_x, f_y,
  x, y and a mask on a regular grid over the bounding box, u_x, u_y out,
  its loss inside the domain only; predictions return to the FE nodes by
  bilinear interpolation.

No model gets a search here: each uses the setting that the Darcy benchmark's
6-setting search chose for it (FNO modes 16 width 64; SPON-MG width 16, one
smoothing step) or, for SPON-graph, the width of SPON-MG with 6 layers. Every
model is scored in the relative FE L² norm of [CG1]² on the same test set;
3 seeds, mean ± std. Writes ``benchmarks/results/spon_paper.json``::

    python benchmarks/spon_paper.py --quick    # 1 seed, 100 samples, 30 epochs
    python benchmarks/spon_paper.py            # 3 seeds, 200 samples, 60 epochs
"""
import argparse
import importlib.util
import json
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
from tqdm import trange  # noqa: E402

from spon.atomic import atomic_write_json  # noqa: E402
from spon.data import HyperelasticityProblem  # noqa: E402
from spon.fem import FENorm, GridTransfer, curl_matrix  # noqa: E402
from spon.mesh import MeshSpec, build_hierarchy  # noqa: E402
from spon.models import build_spon, leapfrog_rollout, rollout  # noqa: E402
from spon.training import Trainer, fit_increment_map, fit_leapfrog_map  # noqa: E402

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("darcy_bench", HERE / "darcy.py")
darcy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(darcy)

SETTINGS = {"fno": dict(darcy.DEFAULT["fno"]), "spon_mg": dict(darcy.DEFAULT["spon_mg"]),
            "fno3d": {"n_modes": 8, "hidden_channels": 20},
            "spon_graph": {"width": darcy.DEFAULT["spon_mg"]["width"], "layers": 6}}
RECIPE = {"fno": darcy.RECIPE["fno"].replace("kappa", "f_x, f_y"),
          "spon_mg": darcy.RECIPE["spon_mg"].replace("exact zero BCs", "clamped DOFs exactly zero"),
          "spon_graph": "as SPON-MG, with 6 rounds of message passing on the finest DOF graph instead of the "
                        "V-cycle",
          "spon_mg_green": "as SPON-MG, with the decoder's interior 'inverse_elasticity': the processor's output "
                           "is read as a body force and mapped by the Green's operator of linear elasticity with "
                           "the problem's mu and lambda (dense, assembled once), so only the nonlinear correction "
                           "is learned; its processor adds a pointwise linear skip that starts as the identity "
                           "(the V-cycle starts at zero) and its output scale equals its input scale, so the "
                           "untrained model is linear elasticity; learning rate 3e-4 (a tenth of SPON's), since it "
                           "starts near the answer",
          "spon_mg_linear": "as SPON-MG, with the encoder 'inverse_elasticity': the body force is encoded as the "
                            "linear elastic displacement (the Green's operator of linear elasticity with the "
                            "problem's mu and lambda, clamped DOFs zero), the processor adds a pointwise linear "
                            "skip that starts as the identity, so the untrained model is linear elasticity and "
                            "the V-cycle learns the nonlinear correction from displacements, a local quantity; "
                            "SPON's learning rate 3e-3",
          "spon_mg_force": "as SPON-MG, with the encoder 'inverse_elasticity' with_source (the body force and the "
                           "linear elastic displacement, node by node, the displacement divided by the operator's "
                           "gain) and the decoder's interior 'inverse_elasticity': the processor starts by passing "
                           "the force through (so the untrained model is linear elasticity) and learns a force "
                           "correction from the displacement, a local quantity, which the decoder's Green's "
                           "operator turns into the displacement correction; SPON's learning rate 3e-3",
          "fno3d": "the FNO recipe of the Darcy benchmark on an n³ grid over the cube (kappa, x, y, z and the "
                   "mask in, the solid's grid points in the loss), with the 3D setting of Li et al. 2021: 8 "
                   "Fourier modes per direction, width 20, 4 layers",
          "fno_linear": "the FNO recipe with the linear elastic displacement (the same solve as spon_mg_linear's "
                        "encoder) as its input channels in place of the body force"}


class VectorFNO:
    """FNO on the grid with one channel per vector component (``darcy.FNOModel``'s recipe), 2D or 3D.

    ``grid`` samples the inputs and brings predictions to the output nodes; ``grid_out``, when the
    output space differs from the input's, samples the training targets (default ``grid``).
    ``c_in``/``c_out``: components of the input and output (1 for scalar fields).
    """

    def __init__(self, grid: GridTransfer, n_modes: int, hidden_channels: int, seed: int, c: int = 2,
                 c_in: int | None = None, grid_out: GridTransfer | None = None):
        from neuralop.models import FNO

        torch.manual_seed(seed)
        self.grid, self.grid_out, self.seed = grid, grid_out or grid, seed
        self.c_in, self.c_out = c if c_in is None else c_in, c
        d = grid.dim
        self.net = FNO(n_modes=(n_modes,) * d, in_channels=self.c_in + d + 1, out_channels=self.c_out,
                       hidden_channels=hidden_channels, n_layers=4)
        coords = np.meshgrid(*grid.axes[::-1], indexing="ij")[::-1]       # x varies fastest, as the grid
        self.mask = grid.mask.float()
        self.const = torch.stack([*(torch.as_tensor(g).float() for g in coords), self.mask])
        self.params = sum(p.numel() for p in self.net.parameters())

    @staticmethod
    def _to_grid(grid, X, c):
        X = X.reshape(len(X), -1, c)
        return torch.stack([grid.to_grid_values(X[..., k].contiguous()) for k in range(c)], 1).float()

    def to_grid(self, X):
        return self._to_grid(self.grid, X, self.c_in)

    def from_grid(self, G):
        return torch.stack([self.grid.from_grid_values(G[:, k].double()) for k in range(self.c_out)],
                           -1).flatten(1)

    def _grid_out(self, X):
        f = (self.to_grid(X) - self.f_mean) / self.f_std
        x = torch.cat([f, self.const.expand(len(X), *self.const.shape)], dim=1)
        return self.net(x) * self.u_std + self.u_mean

    def fit(self, X, Y, epochs, batch=20, lr=1e-3, desc="fno"):
        f, u = self.to_grid(X), self._to_grid(self.grid_out, Y, self.c_out)
        self.f_mean, self.f_std = f.mean(0), f.std(0) + 1e-5
        self.u_mean, self.u_std = u.mean(0), u.std(0) + 1e-5
        mask = self.mask

        def rel_l2(pred, true):
            d = ((pred - true) * mask).flatten(1).norm(dim=1)
            return (d / (true * mask).flatten(1).norm(dim=1)).mean()

        opt = torch.optim.Adam(self.net.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, epochs // 5), gamma=0.5)
        gen = torch.Generator().manual_seed(self.seed)
        self.net.train()
        for _ in trange(epochs, desc=desc, leave=False):
            for idx in torch.randperm(len(X), generator=gen).split(batch):
                opt.zero_grad(set_to_none=True)
                rel_l2(self._grid_out(X[idx]), u[idx]).backward()
                opt.step()
            sched.step()
        return self

    @torch.no_grad()
    def predict(self, X):
        self.net.eval()
        return torch.cat([self.from_grid(self._grid_out(x)) for x in X.split(64)])


class SPONModel:
    """SPON-MG or SPON-graph on the vector output space, SPON's recipe (``darcy.RECIPE``)."""

    def __init__(self, ms, kind, hp, boundary, seed, green=None, green_encoder=None):
        proc = ({"kind": "mg", "width": hp["width"], "coarse_width": 64, "smooth": hp["smooth"], "coarse_layers": 4}
                if kind.startswith("spon_mg") else {"kind": "graph", **hp})
        dec, enc = {"kind": "dirichlet", "value": 0.0, "boundary": boundary}, "l2"
        if green is not None:        # the decoder applies linear elasticity's Green's operator; the model
            dec |= {"interior": "inverse_elasticity", **green}     # starts as that linear solve
            proc["linear_skip"] = True
        if green_encoder is not None:    # the encoder is that linear solve; the processor starts as the identity
            enc = {"kind": "inverse_elasticity", **green_encoder}
            proc["linear_skip"] = True
            if green is not None:       # (force, linear displacement) in, a force out, the Green's operator on it
                enc["with_source"] = True
        self.spec = {"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 1, "shape": [2]},
                     "output": {"family": "CG", "degree": 1, "shape": [2]}, "encoder": enc,
                     "decoder": dec, "dtype": "float32", "processor": proc, "seed": seed}
        self.model, self.seed = build_spon(self.spec), seed
        self.params = sum(p.numel() for p in self.model.parameters())

    def fit(self, X, Y, epochs, desc="spon"):
        # SPON's recipe; the Green-decoder model starts at the linear solve and is fine-tuned at a tenth of the rate
        lr = 3e-4 if self.spec["decoder"].get("interior") == "inverse_elasticity" and self.spec["encoder"] == "l2" \
            else 3e-3
        Trainer(self.model, epochs=epochs, batch_size=16, lr=lr, seed=self.seed, desc=desc).fit((X, Y))
        return self

    @torch.no_grad()
    def predict(self, X):
        self.model.eval()
        return torch.cat([self.model(x.float()) for x in X.split(64)]).double().reshape(len(X), -1)


def summary(runs, *maxima):
    """Mean ± std of the seeds' errors, the worst boundary error (and ``maxima``), mean time."""
    r = np.array([x["rel_l2"] for x in runs])
    return {"rel_l2": float(r.mean()), "rel_l2_std": float(r.std(ddof=1)) if len(r) > 1 else None,
            **{k: max(x[k] for x in runs) for k in (*maxima, "max_boundary_error")},
            "train_seconds": float(np.mean([x["train_seconds"] for x in runs])), "params": runs[0]["params"]}


def rollout_summary(runs):
    """:func:`summary`, with the Strouhal numbers' relative errors, from the probe and (where
    recorded) from the lift (mean ± std over the rollouts that kept oscillating), and how many stopped."""
    out = summary(runs)
    for key in ("strouhal_rel_err", "strouhal_from_lift_rel_err"):
        errs = [r[key] for r in runs if r.get(key) is not None]
        if key in runs[0] or errs:
            out[f"{key}_mean"] = float(np.mean(errs)) if errs else None
            out[f"{key}_std"] = float(np.std(errs, ddof=1)) if len(errs) > 1 else None
    errs = [r for r in runs if r["strouhal_rel_err"] is not None]
    return out | {"rollouts_that_stopped_oscillating": len(runs) - len(errs)}


def data_path_check(prob, grid):
    """A linear field survives FE → grid (inside) and grid → FE (at every node of the output space)
    exactly, in 2D or 3D."""
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


def hyperelasticity(a, out):
    ms = MeshSpec("cook_membrane", a.h, 2)
    prob = HyperelasticityProblem(ms)
    t0 = time.perf_counter()
    n = a.n_test + a.n_train
    X = prob.sample_inputs(n, seed=0).reshape(n, -1)
    Y = prob.solve(X)
    data_seconds = time.perf_counter() - t0
    Xte, Yte, Xtr, Ytr = X[:a.n_test], Y[:a.n_test], X[a.n_test:], Y[a.n_test:]
    V = prob.output_space
    norm = FENorm(V)
    nodes = torch.as_tensor(prob.bcs[0].nodes)
    bdofs = (2 * nodes[:, None] + torch.arange(2)).flatten()
    grid = GridTransfer(fd.FunctionSpace(prob.mesh, "CG", 1), n=a.grid)
    U = Y.reshape(n, -1, 2).norm(dim=-1).max(dim=1).values
    sec = {"problem": prob.metadata(), "dofs": V.dim(), "cells": prob.mesh.num_cells(), "levels": 3,
           "data_seconds": data_seconds, "newton_iterations_mean": float(np.mean(prob.newton_iterations)),
           "peak_displacement_mm": {"median": U.median().item(), "max": U.max().item()},
           "n_train": a.n_train, "n_test": a.n_test, "epochs": a.epochs, "seeds": a.seeds,
           "grid": a.grid, "grid_points_inside": int(grid.mask.sum()), "data_path": data_path_check(prob, grid),
           "settings": SETTINGS, "recipe": RECIPE, "runs": {}}
    green = {"mu": prob.params["mu"], "lmbda": prob.params["lmbda"]}
    # the reference any learned model must beat: linear elasticity with the same mu and lambda
    from spon.data import ElasticityProblem
    mu, lm = green["mu"], green["lmbda"]
    lin = ElasticityProblem(ms, youngs=mu * (3 * lm + 2 * mu) / (lm + mu), poisson=lm / (2 * (lm + mu)), clamp=1)
    Ylin = lin.solve(X.reshape(n, -1, 2), progress=False).reshape(n, -1)
    Ltr, Lte = Ylin[a.n_test:], Ylin[:a.n_test]
    sec["linear_elasticity_prediction"] = {"rel_l2": norm.relative_error(Lte, Yte).mean().item(),
                                           "note": "the linear elastic solution for the same body force, as a "
                                                   "prediction of the neo-Hookean one (no learning)"}
    for kind in a.hyper_models.split(","):
        runs = []
        xtr, xte = (Ltr, Lte) if kind == "fno_linear" else (Xtr, Xte)     # FNO sees the linear solution too
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            if kind.startswith("fno"):
                m = VectorFNO(grid, seed=seed, **SETTINGS["fno"])
            else:
                m = SPONModel(ms, kind, SETTINGS["spon_graph" if kind == "spon_graph" else "spon_mg"], [1], seed,
                              green=green if kind in ("spon_mg_green", "spon_mg_force") else None,
                              green_encoder=green if kind in ("spon_mg_linear", "spon_mg_force") else None)
            t0 = time.perf_counter()
            m.fit(xtr, Ytr, a.epochs, desc=f"{kind} seed {seed}")
            secs = time.perf_counter() - t0
            pred = m.predict(xte)
            runs.append({"seed": seed, "rel_l2": norm.relative_error(pred, Yte).mean().item(),
                         "max_boundary_error": (pred[:, bdofs] - Yte[:, bdofs]).abs().max().item(),
                         "train_seconds": secs, "params": m.params})
            print(kind, runs[-1], flush=True)
        sec["runs"][kind], sec[kind] = runs, summary(runs)
        out["hyperelasticity"] = sec
        atomic_write_json(a.out, out)
    mg = {k: sec[k]["rel_l2"] for k in ("spon_mg", "spon_mg_green", "spon_mg_linear", "spon_mg_force") if k in sec}
    best = min(mg, key=mg.get) if mg else None
    sec["target"] = {"spon_mg_rel_l2_at_most": 0.03, "best_spon_mg": best,
                     "met": best is not None and mg[best] <= 0.03}
    return sec


def stokes_divfree(a, out):
    """Stokes velocity from a random body force: SPON with the stream-function/curl decoder (u ∈ RT2,
    div u = 0 and u·n = 0 exactly) against SPON with an unconstrained vector decoder (u ∈ [CG2]², u = 0
    on the walls exactly) and the FNO (its recipe; f on the grid, bilinear back to the [CG2]² nodes), all
    scored against the Taylor–Hood velocity."""
    from spon.data import StokesProblem

    ms = MeshSpec("unit_square", a.stokes_h, 2)
    prob = StokesProblem(ms)
    t0 = time.perf_counter()
    n = a.n_test + a.n_train
    X = prob.sample_inputs(n, seed=0).reshape(n, -1)
    Y = prob.solve(X)
    data_seconds = time.perf_counter() - t0
    mesh, V = prob.mesh, prob.output_space
    RT = fd.FunctionSpace(mesh, "RT", 2)
    # training targets of the divergence-free model: the L2 projection of the TH velocity onto RT2
    w, v = fd.TrialFunction(RT), fd.TestFunction(RT)
    lu = {"ksp_type": "preonly", "pc_type": "lu"}
    proj = fd.LinearSolver(fd.assemble(fd.inner(w, v) * fd.dx), solver_parameters=lu)
    uth, x = fd.Function(V), fd.Function(RT)
    T = torch.empty(n, RT.dim(), dtype=torch.float64)
    for i in range(n):
        uth.dat.data[:] = Y[i].reshape(-1, 2).numpy()
        proj.solve(x, fd.assemble(fd.inner(uth, v) * fd.dx))
        T[i] = torch.as_tensor(x.dat.data_ro)
    nrm = fd.FacetNormal(mesh)

    def score(pred, space):
        rel, div, bnd = [], [], []
        u = fd.Function(space)
        for i in range(a.n_test):
            u.dat.data[:] = pred[i].reshape(u.dat.data.shape).numpy()
            uth.dat.data[:] = Y[i].reshape(-1, 2).numpy()
            rel.append(fd.sqrt(fd.assemble(fd.inner(u - uth, u - uth) * fd.dx)) / fd.norm(uth))
            div.append(fd.norm(fd.div(u)) / fd.norm(u))
            bnd.append(fd.sqrt(fd.assemble(fd.inner(u, u) * fd.ds)) if space is V else
                       fd.sqrt(fd.assemble(fd.dot(u, nrm) ** 2 * fd.ds)))
        return float(np.mean(rel)), float(np.max(div)), float(np.max(bnd))

    base = {"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 1, "shape": [2]}, "encoder": "l2",
            "dtype": "float32"}
    models = {
        "spon_mg_divfree": ({"output": {"family": "RT", "degree": 2},
                             "decoder": {"kind": "divergence_free", "no_flux": True},
                             "processor": {"kind": "mg", "width": 16, "coarse_width": 64, "smooth": 1,
                                           "coarse_layers": 4}}, T, RT),
        "spon_graph_divfree": ({"output": {"family": "RT", "degree": 2},
                                "decoder": {"kind": "divergence_free", "no_flux": True},
                                "processor": {"kind": "graph", "width": 16, "layers": 6}}, T, RT),
        "spon_mg_vector": ({"output": {"family": "CG", "degree": 2, "shape": [2]},
                            "decoder": {"kind": "dirichlet", "value": 0.0},
                            "processor": {"kind": "mg", "width": 16, "coarse_width": 64, "smooth": 1,
                                          "coarse_layers": 4}}, Y, V),
    }
    sec = {"problem": prob.metadata(), "velocity_dofs": V.dim(), "rt2_dofs": RT.dim(), "data_seconds": data_seconds,
           "n_train": a.n_train, "n_test": a.n_test, "epochs": a.epochs, "seeds": a.seeds,
           "metric": "relative L2 distance to the Taylor-Hood velocity; max_divergence = max ||div u|| / ||u||; "
                     "max_boundary_error = max ||u.n||_L2(boundary) (divergence-free decoders, no flux by "
                     "construction) or max ||u||_L2(boundary) (vector decoder, no slip by construction); models "
                     "train in float32 and are evaluated with their weights cast to float64 (max_divergence_float32: "
                     "evaluated in float32)",
           "recipe": RECIPE["spon_mg"], "runs": {}}
    th_div = []
    for i in range(a.n_test):
        uth.dat.data[:] = Y[i].reshape(-1, 2).numpy()
        th_div.append(fd.norm(fd.div(uth)) / fd.norm(uth))
    sec["taylor_hood_max_divergence"] = float(np.max(th_div))
    models["fno"] = (None, Y, V)
    S1, S2 = fd.FunctionSpace(mesh, "CG", 1), fd.FunctionSpace(mesh, "CG", 2)
    grid_in, grid_out = GridTransfer(S1, S2, n=a.grid), GridTransfer(S2, n=a.grid)
    sec["grid"], sec["data_path"] = a.grid, data_path_check(None, grid_in)
    for kind, (extra, target, space) in models.items():
        runs = []
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            if kind == "fno":       # the FNO recipe: f on the grid in, [CG2]² values back at the nodes
                t1 = time.perf_counter()
                m = VectorFNO(grid_in, seed=seed, grid_out=grid_out, **SETTINGS["fno"]).fit(
                    X[a.n_test:], Y[a.n_test:], a.epochs, desc=f"fno seed {seed}")
                secs = time.perf_counter() - t1
                pred = m.predict(X[:a.n_test])
                rel, div, bnd = score(pred, space)
                runs.append({"seed": seed, "rel_l2": rel, "max_divergence": div, "max_boundary_error": bnd,
                             "max_divergence_float32": div, "train_seconds": secs, "params": m.params})
                print(kind, runs[-1], flush=True)
                continue
            m = build_spon({**base, **extra, "seed": seed})
            t1 = time.perf_counter()
            Trainer(m, epochs=a.epochs, batch_size=16, lr=3e-3, seed=seed, desc=f"{kind} seed {seed}").fit(
                (X[a.n_test:], target[a.n_test:]))
            secs = time.perf_counter() - t1
            with torch.no_grad():
                pred32 = torch.cat([m(x.float()) for x in X[:a.n_test].split(64)]).double().reshape(a.n_test, -1)
                m.double()     # the trained weights, evaluated in float64: the decoder's curl to float64 round-off
                pred = torch.cat([m(x) for x in X[:a.n_test].split(64)]).reshape(a.n_test, -1)
            rel, div, bnd = score(pred, space)
            div32 = score(pred32, space)[1]
            runs.append({"seed": seed, "rel_l2": rel, "max_divergence": div, "max_boundary_error": bnd,
                         "max_divergence_float32": div32, "train_seconds": secs,
                         "params": sum(q.numel() for q in m.parameters())})
            print(kind, runs[-1], flush=True)
        sec["runs"][kind], sec[kind] = runs, summary(runs, "max_divergence", "max_divergence_float32")
        out["stokes_divfree"] = sec
        atomic_write_json(a.out, out)
    sec["max_divergence"] = sec["spon_mg_divfree"]["max_divergence"]
    sec["target"] = {"divergence_at_round_off": sec["max_divergence"] < 1e-10}
    return sec


def poisson3d(a, out):
    """3D: -div(kappa grad u) = 1 in a unit cube with a spherical hole (gmsh tetrahedra, 3-level
    hierarchy), u = 0 on all of the boundary, kappa the FNO recipe's thresholded Matérn field (12 / 3).
    SPON-MG, SPON-graph and a masked 3D FNO (kappa on an n³ grid over the cube, the FNO paper's 3D
    setting: 8 modes per direction, width 20; trilinear back to the nodes)."""
    from spon.data import DarcyProblem

    ms = MeshSpec("cube_hole", a.h3d, 2)
    prob = DarcyProblem(ms, smoothness=2.5, length_scale=0.3)
    t0 = time.perf_counter()
    n = a.n_test + a.n_train
    X = prob.sample_inputs(n, seed=0)
    Y = prob.solve(X)
    data_seconds = time.perf_counter() - t0
    V = prob.output_space
    norm, bdofs = FENorm(V), torch.as_tensor(prob.bcs[0].nodes)
    sec = {"problem": prob.metadata(), "dofs": V.dim(), "cells": prob.mesh.num_cells(),
           "vertices_per_level": [m.num_vertices() for m in build_hierarchy(ms)],
           "data_seconds": data_seconds, "n_train": a.n_train, "n_test": a.n_test, "epochs": a.epochs,
           "seeds": a.seeds, "recipe": RECIPE["spon_mg"], "runs": {}}
    procs = {"spon_mg": {"kind": "mg", "width": 16, "coarse_width": 64, "smooth": 1, "coarse_layers": 4},
             "spon_graph": {"kind": "graph", "width": 16, "layers": 6}}
    grid, grid_out = GridTransfer(prob.input_space, V, n=a.grid3d), GridTransfer(V, n=a.grid3d)
    # the data path of targets and predictions (kappa in DG0 is sampled cell by cell, exactly)
    sec |= {"grid": a.grid3d, "grid_points_inside": int(grid.mask.sum()), "data_path": data_path_check(None, grid_out),
            "fno_settings": SETTINGS["fno3d"], "fno_recipe": RECIPE["fno3d"]}
    for kind in a.p3d_models.split(","):
        proc = procs.get(kind)
        runs = []
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            if kind == "fno":      # kappa sampled on the n³ grid in, trilinear back to the CG1 nodes
                t1 = time.perf_counter()
                m = VectorFNO(grid, seed=seed, c=1, grid_out=grid_out, **SETTINGS["fno3d"])
                m.fit(X[a.n_test:], Y[a.n_test:], a.epochs, desc=f"fno seed {seed}")
                secs = time.perf_counter() - t1
                pred = m.predict(X[:a.n_test])
                runs.append({"seed": seed, "rel_l2": norm.relative_error(pred, Y[:a.n_test]).mean().item(),
                             "max_boundary_error": (pred[:, bdofs] - Y[:a.n_test, bdofs]).abs().max().item(),
                             "train_seconds": secs, "params": m.params})
                print(kind, runs[-1], flush=True)
                continue
            m = build_spon({"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0},
                            "output": {"family": "CG", "degree": 1}, "encoder": "l2",
                            "decoder": {"kind": "dirichlet", "value": 0.0}, "dtype": "float32", "processor": proc,
                            "seed": seed})
            t1 = time.perf_counter()
            Trainer(m, epochs=a.epochs, batch_size=16, lr=3e-3, seed=seed, desc=f"{kind} seed {seed}").fit(
                (X[a.n_test:], Y[a.n_test:]))
            secs = time.perf_counter() - t1
            with torch.no_grad():
                pred = torch.cat([m(x.float()) for x in X[:a.n_test].split(32)]).double()
            runs.append({"seed": seed, "rel_l2": norm.relative_error(pred, Y[:a.n_test]).mean().item(),
                         "max_boundary_error": (pred[:, bdofs] - Y[:a.n_test, bdofs]).abs().max().item(),
                         "train_seconds": secs, "params": sum(q.numel() for q in m.parameters())})
            print(kind, runs[-1], flush=True)
        sec["runs"][kind], sec[kind] = runs, summary(runs)
        out["poisson3d"] = sec
        atomic_write_json(a.out, out)
    sec["target"] = {"spon_mg_rel_l2_at_most": 0.03, "met": "spon_mg" in sec and sec["spon_mg"]["rel_l2"] <= 0.03}
    return sec


def dfg_2d1(a, out):
    """DFG 2D-1 (Schäfer & Turek 1996; U_m = 0.3, Re = 20, steady): drag and lift of the Navier–Stokes
    solver against the published values, on three gmsh meshes (cylinder size h/8, wake h/2)."""
    from spon.data.navier_stokes import DFG_2D1, DFGChannel

    levels = []
    for h in (0.08, 0.04, 0.02):
        t0 = time.perf_counter()
        ch = DFGChannel(MeshSpec("dfg_cylinder", h, 0))
        ch.solve_steady(DFG_2D1["U_m"])
        cd, cl = ch.coefficients()
        levels.append({"h": h, "dofs": ch.dofs, "cells": ch.mesh.num_cells(), "cd": cd, "cl": cl,
                       "cd_rel_err": abs(cd / DFG_2D1["cd"] - 1), "cl_rel_err": abs(cl / DFG_2D1["cl"] - 1),
                       "seconds": time.perf_counter() - t0})
        print("dfg_2d1", levels[-1], flush=True)
    main = levels[1]      # the mesh of the learned operators
    return {"reference": DFG_2D1, "method": "Taylor-Hood P2-P1, Newton + MUMPS, forces from the volume integral "
                                            "of the residual against a velocity that is 1 on the cylinder",
            "h": main["h"], "dofs": main["dofs"], "cd": main["cd"], "cl": main["cl"],
            "cd_rel_err": main["cd_rel_err"], "cl_rel_err": main["cl_rel_err"], "mesh_convergence": levels,
            "target": {"rel_err_at_most": 0.01,
                       "met": main["cd_rel_err"] <= 0.01 and main["cl_rel_err"] <= 0.01}}


def navier_stokes_steady(a, out):
    """Steady flow past the DFG cylinder for peak inflow U_m in [0.075, 0.6] (Re 5 to 40): the Stokes flow
    with the same inflow (linear in U_m, one solve) in, the Navier-Stokes velocity out (spon_mg_mixed: (u, p)
    in and out on Taylor-Hood, through one V-cycle on the shared P2 node graph). SPON models use a
    Dirichlet decoder whose boundary values are each sample's own (the input's: inflow profile, no slip on
    walls and cylinder), passed per sample through the Trainer; the masked FNO sees the Stokes flow,
    x, y and the mask on a grid over the channel's bounding box."""
    from spon.data.navier_stokes import CYLINDER, INFLOW, WALLS, DFGChannel

    ms = MeshSpec("dfg_cylinder", a.ns_h, 1)
    ch = DFGChannel(ms)
    V = ch.V
    n = a.ns_train + a.ns_test
    rng = np.random.default_rng(0)
    U_m = rng.uniform(0.075, 0.6, size=n)
    # Stokes flow for U_m = 1: the input is U_m times it
    w_s = fd.Function(ch.W)
    (u, p), (v, q) = fd.TrialFunctions(ch.W), fd.TestFunctions(ch.W)
    ch.U_m.assign(1.0)
    fd.solve((ch.nu * fd.inner(fd.grad(u), fd.grad(v)) - p * fd.div(v) - q * fd.div(u)) * fd.dx
             == fd.inner(fd.Constant((0.0, 0.0)), v) * fd.dx, w_s, bcs=ch.bcs,
             solver_parameters={"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"})

    def state(w):    # (u, p) flat: the velocity block (node-major, interleaved), then the pressure
        return torch.cat([torch.as_tensor(f.dat.data_ro.copy()).reshape(-1) for f in w.subfunctions])

    stokes = state(w_s)
    t0 = time.perf_counter()
    Ymix = torch.empty(n, ch.W.dim(), dtype=torch.float64)
    ch.w.zero()
    for i in np.argsort(U_m):                   # continuation: each Newton solve starts at the last
        ch.solve_steady(float(U_m[i]))
        Ymix[i] = state(ch.w)
    data_seconds = time.perf_counter() - t0
    Xmix = torch.as_tensor(U_m)[:, None] * stokes[None]
    nu = V.dim()
    X, Y = Xmix[:, :nu].contiguous(), Ymix[:, :nu].contiguous()
    te, tr = slice(0, a.ns_test), slice(a.ns_test, n)
    norm = FENorm(V)
    bdofs = ch.velocity_boundary_dofs()
    stokes_as_prediction = norm.relative_error(X[te], Y[te]).mean().item()
    grid = GridTransfer(fd.FunctionSpace(ch.mesh, "CG", 2), n=a.ns_grid)
    sec = {"mesh": ms.to_dict(), "velocity_dofs": V.dim(), "mixed_dofs": ch.dofs, "levels": 2,
           "U_m_range": [0.075, 0.6], "reynolds_range": [5, 40], "n_train": a.ns_train, "n_test": a.ns_test,
           "epochs": a.ns_steady_epochs, "batch_size": a.ns_batch, "seeds": a.seeds, "data_seconds": data_seconds,
           "stokes_as_prediction": {"rel_l2": stokes_as_prediction,
                                    "note": "the input itself (Stokes flow) as a prediction: what learning must beat"},
           "grid": a.ns_grid, "grid_points_inside": int(grid.mask.sum()), "data_path": data_path_check(None, grid),
           "metric": "relative L2 error of the velocity on the test values of U_m; max_boundary_error over "
                     "inflow, walls and cylinder DOFs", "recipe": RECIPE, "runs": {},
           "spon_settings": {"lr": a.ns_lr, "batch_size": a.ns_batch, "epochs": a.ns_steady_epochs,
                             "note": "SPON's recipe but for the rate and the batch: 40 samples in batches of 16 "
                                     "give 3 steps an epoch; the FNO keeps its own recipe (batch 20) with the "
                                     "same epochs"}}
    base = {"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 2, "shape": [2]},
            "output": {"family": "CG", "degree": 2, "shape": [2]}, "encoder": "l2",
            "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": [INFLOW, WALLS, CYLINDER]}, "dtype": "float32"}
    procs = {"spon_mg": {"kind": "mg", "width": 16, "coarse_width": 64, "smooth": 1, "coarse_layers": 4,
                         "linear_skip": True},
             "spon_graph": {"kind": "graph", "width": 16, "layers": 6, "linear_skip": True}}
    TH = {"mixed": [{"family": "CG", "degree": 2, "shape": [2]}, {"family": "CG", "degree": 1}]}
    mixed = {**base, "input": TH, "output": TH, "encoder": "coefficients",
             "decoder": {"kind": "mixed", "parts": [dict(base["decoder"]), {"kind": "coefficients"}]}}
    p_norm = FENorm(ch.Q)
    sec["stokes_as_prediction"]["pressure_rel_l2"] = p_norm.relative_error(Xmix[te, nu:], Ymix[te, nu:]).mean().item()
    if "spon_mg_divfree" in a.ns_models.split(","):
        divfree = _channel_divfree(ch, w_s, U_m, Y, te)
        sec["divfree"] = divfree["info"]
    for kind in a.ns_models.split(","):
        runs = []
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            t1 = time.perf_counter()
            extra = {}
            if kind == "spon_mg_mixed":     # (u, p) on Taylor-Hood, one MG on the shared P2 node graph
                m = build_spon({**mixed, "processor": procs["spon_mg"], "seed": seed})
                Trainer(m, epochs=a.ns_steady_epochs, batch_size=a.ns_batch, lr=a.ns_lr, seed=seed,
                        desc=f"{kind} seed {seed}").fit((Xmix[tr], Ymix[tr], {"g": Xmix[tr]}))
                secs = time.perf_counter() - t1
                with torch.no_grad():
                    m.double()
                    full = torch.cat([m(x, g=x) for x in Xmix[te].split(16)])
                pred, params = full[:, :nu], sum(q.numel() for q in m.parameters())
                extra = {"pressure_rel_l2": p_norm.relative_error(full[:, nu:], Ymix[te, nu:]).mean().item()}
            elif kind == "spon_mg_divfree":    # u = curl ψ in RT2: div u = 0, u·n from the data, to round-off
                # in: the Stokes flow's stream function; the identity-start skip makes the untrained model
                # the Stokes flow, as for spon_mg
                m = build_spon({**base, "input": {"family": "CG", "degree": 2}, "encoder": "coefficients",
                                "output": {"family": "RT", "degree": 2},
                                "decoder": {"kind": "divergence_free", "boundary": [INFLOW, WALLS, CYLINDER]},
                                "processor": procs["spon_mg"], "seed": seed})
                psi = divfree["psi"]
                Trainer(m, epochs=a.ns_steady_epochs, batch_size=a.ns_batch, lr=a.ns_lr, seed=seed,
                        desc=f"{kind} seed {seed}").fit((psi[tr], divfree["targets"][tr], {"g": psi[tr]}))
                secs = time.perf_counter() - t1
                with torch.no_grad():
                    m.double()
                    pred = torch.cat([m(g, g=g) for g in psi[te].split(16)])
                runs.append({"seed": seed, **divfree["score"](pred.reshape(a.ns_test, -1)), "train_seconds": secs,
                             "params": sum(q.numel() for q in m.parameters()), "epochs": a.ns_steady_epochs,
                             "batch_size": a.ns_batch})
                print(kind, runs[-1], flush=True)
                continue
            elif kind == "fno":
                m = VectorFNO(grid, seed=seed, **SETTINGS["fno"])
                m.fit(X[tr], Y[tr], a.ns_steady_epochs, desc=f"fno {seed}")
                secs = time.perf_counter() - t1
                pred, params = m.predict(X[te]), m.params
            else:
                m = build_spon({**base, "processor": procs[kind], "seed": seed})
                # one-cycle AdamW; 40 samples give few steps per epoch, so the batch is small (4) and the run
                # long (100 epochs, 1000 steps): at batch 8 and 30 epochs (90 steps) SPON-MG reached only 0.174
                Trainer(m, epochs=a.ns_steady_epochs, batch_size=a.ns_batch, lr=a.ns_lr, seed=seed,
                        desc=f"{kind} seed {seed}").fit((X[tr], Y[tr], {"g": X[tr]}))   # each sample's boundary values
                secs = time.perf_counter() - t1
                with torch.no_grad():      # the trained weights in float64: boundary values to float64 round-off
                    m.double()
                    pred = torch.cat([m(x, g=x) for x in X[te].split(16)])
                params = sum(q.numel() for q in m.parameters())
            pred = pred.reshape(a.ns_test, -1)
            runs.append({"seed": seed, "rel_l2": norm.relative_error(pred, Y[te]).mean().item(),
                         "max_boundary_error": (pred[:, bdofs] - Y[te][:, bdofs]).abs().max().item(),
                         "train_seconds": secs, "params": params, "epochs": a.ns_steady_epochs,
                         "batch_size": 20 if kind == "fno" else a.ns_batch, **extra})
            print(kind, runs[-1], flush=True)
        sec["runs"][kind] = runs
        sec[kind] = summary(runs, *(("max_divergence", "inflow_normal_error") if kind == "spon_mg_divfree" else ()))
        if extra:
            sec[kind]["pressure_rel_l2"] = float(np.mean([r["pressure_rel_l2"] for r in runs]))
        out["navier_stokes_steady"] = sec
        atomic_write_json(a.out, out)
    best = min((sec[k]["rel_l2"] for k in ("spon_mg", "spon_mg_mixed") if k in sec), default=None)
    sec["target"] = {"spon_mg_rel_l2_at_most": 0.03, "met": best is not None and best <= 0.03}
    return sec


def _channel_divfree(ch, w_s, U_m, Y, te):
    """Data of the divergence-free steady model: ψ's boundary data per sample (the inflow's stream
    function, the walls' and the Stokes flow's flux below the cylinder, all times U_m), the training
    targets (the L² projections of the Taylor–Hood velocities onto RT2) and the scores of a prediction
    against the Taylor–Hood velocities."""
    from spon.data.navier_stokes import CYLINDER, INFLOW, WALLS, H

    mesh = ch.mesh
    RT, Z = fd.FunctionSpace(mesh, "RT", 2), fd.FunctionSpace(mesh, "CG", 2)
    u_s = w_s.subfunctions[0]                                 # the Stokes flow at U_m = 1
    c = ch.flux_below_cylinder(u_s)
    # its stream function: the data on inflow, walls and cylinder, curl ψ closest to u_s in L² inside
    data = ch.stream_function_data(Z, c)
    psi_s, phi, chi = fd.Function(Z), fd.TrialFunction(Z), fd.TestFunction(Z)
    fd.solve(fd.inner(fd.grad(phi), fd.grad(chi)) * fd.dx == fd.inner(u_s, fd.curl(chi)) * fd.dx, psi_s,
             bcs=fd.DirichletBC(Z, data, (INFLOW, WALLS, CYLINDER)))
    unit = torch.as_tensor(psi_s.dat.data_ro.copy())
    psi = torch.as_tensor(U_m)[:, None] * unit[None]      # input and boundary data of each sample
    w, v = fd.TrialFunction(RT), fd.TestFunction(RT)
    lu = {"ksp_type": "preonly", "pc_type": "lu"}
    proj = fd.LinearSolver(fd.assemble(fd.inner(w, v) * fd.dx), solver_parameters=lu)
    uth, x = fd.Function(ch.V), fd.Function(RT)
    T = torch.empty(len(Y), RT.dim(), dtype=torch.float64)
    split = []
    for i in range(len(Y)):
        uth.dat.data[:] = Y[i].reshape(-1, 2).numpy()
        proj.solve(x, fd.assemble(fd.inner(uth, v) * fd.dx))
        T[i] = torch.as_tensor(x.dat.data_ro)
        split.append(ch.flux_below_cylinder(uth) / (U_m[i] * c) - 1)
    n = fd.FacetNormal(mesh)
    yy = fd.SpatialCoordinate(mesh)[1]

    def score(pred):
        rel, div, bnd, inflow = [], [], [], []
        u = fd.Function(RT)
        for j, i in enumerate(range(te.start, te.stop)):
            u.dat.data[:] = pred[j].numpy()
            uth.dat.data[:] = Y[i].reshape(-1, 2).numpy()
            u_in = fd.as_vector([4 * float(U_m[i]) * yy * (H - yy) / H ** 2, 0])
            rel.append(fd.sqrt(fd.assemble(fd.inner(u - uth, u - uth) * fd.dx)) / fd.norm(uth))
            div.append(fd.norm(fd.div(u)) / fd.norm(u))
            bnd.append(fd.assemble(fd.dot(u, n) ** 2 * fd.ds((WALLS, CYLINDER))) ** 0.5)
            inflow.append((fd.assemble(fd.dot(u - u_in, n) ** 2 * fd.ds(INFLOW))
                           / fd.assemble(fd.dot(u_in, n) ** 2 * fd.ds(INFLOW))) ** 0.5)
        return {"rel_l2": float(np.mean(rel)), "max_divergence": float(np.max(div)),
                "max_boundary_error": float(np.max(bnd)), "inflow_normal_error": float(np.max(inflow))}

    best = score(T[te])     # the RT2 projection of the truth itself: what the space allows
    stokes = score(torch.sparse.mm(curl_matrix(Z, RT), psi[te].T).T)   # curl of the input: the Stokes flow
    info = {"space": "u = curl psi in RT2, psi in CG2 with per-sample data on inflow, walls and cylinder",
            "stokes_flux_below_cylinder": c,
            "truth_flux_split_rel_diff": {"max": float(np.max(np.abs(split))), "mean": float(np.mean(split))},
            "rt2_projection_of_truth": best, "stokes_as_prediction": stokes,
            "metric": "rel_l2 against the Taylor-Hood velocity; max_divergence = max ||div u|| / ||u||; "
                      "max_boundary_error = max ||u.n||_L2(walls, cylinder); inflow_normal_error = max relative "
                      "L2 error of u.n on the inflow (RT2 holds the parabola's flux per edge, not its profile)"}
    return {"psi": psi, "targets": T, "score": score, "info": info}


def navier_stokes_rollout(a, out):
    """DFG 2D-2 (U_m = 1.5, Re = 100): vortex shedding on the operators' mesh. The FE solution (BDF2,
    dt = 0.01, from rest) is spun up until it sheds periodically, then recorded; a one-step map
    u_n -> u_(n+k) is learned from the first part of the record and rolled out past it. Strouhal numbers
    from a probe's cross-stream velocity one diameter behind the cylinder, rollout against FE on the same
    mesh; the relative L2 error over rollout time."""
    from spon.data.navier_stokes import CYLINDER, DFG_2D2, INFLOW, WALLS, DFGChannel, strouhal

    ms = MeshSpec("dfg_cylinder", a.ns_h, 1)
    ch = DFGChannel(ms)
    V = ch.V
    ch.U_m.assign(DFG_2D2["U_m"])
    U_bar = 2.0 * DFG_2D2["U_m"] / 3.0
    dt, k = a.ns_dt, a.ns_k
    ch.start_unsteady(dt)
    t0 = time.perf_counter()
    key = {"mesh": ms.to_dict(), "dofs": V.dim(), "dt": dt, "spinup": a.ns_spinup, "record": a.ns_record}
    cache = a.ns_cache if a.ns_cache and a.ns_cache.is_file() else None
    if cache is not None and torch.load(cache)["key"] == key:      # the FE trajectory of an earlier run
        saved = torch.load(cache)
        T, CL, CD, U, data_seconds = saved["T"], saved["CL"], saved["CD"], saved["U"], saved["data_seconds"]
    else:
        for _ in trange(a.ns_spinup, desc="spin-up"):
            ch.step()
        T, CL, CD, U = [], [], [], []
        for _ in trange(a.ns_record, desc="record"):
            ch.step()
            cd, cl = ch.unsteady_coefficients()
            T.append(ch.time), CD.append(cd), CL.append(cl), U.append(ch.velocity())
        data_seconds = time.perf_counter() - t0
        U = torch.stack(U)
        if a.ns_cache:
            a.ns_cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"key": key, "T": T, "CL": CL, "CD": CD, "U": U, "data_seconds": data_seconds},
                       a.ns_cache)
    T = np.array(T)
    st_cl, cl_amp = strouhal(T, CL, U_bar)
    # probe: the node nearest (0.3, 0.2), one diameter behind the cylinder; its cross-stream velocity
    X = fd.Function(V).interpolate(fd.SpatialCoordinate(ch.mesh)).dat.data_ro
    probe = int(np.argmin(np.linalg.norm(X - np.array([0.3, 0.2]), axis=1)))
    win = a.ns_window
    idx = np.arange(0, win - k)
    Xtr, Ytr = U[idx], U[idx + k]
    starts = win - 1                                   # the last state inside the training window
    steps = (a.ns_record - 1 - starts) // k
    eval_idx = starts + k * np.arange(1, steps + 1)
    t_eval = T[eval_idx]
    fe_probe = U[eval_idx].reshape(len(eval_idx), -1, 2)[:, probe, 1].numpy()
    st_fe = strouhal(t_eval, fe_probe, U_bar)[0]
    norm = FENorm(V)
    bdofs = ch.velocity_boundary_dofs()
    grid = GridTransfer(fd.FunctionSpace(ch.mesh, "CG", 2), n=a.ns_grid)
    sec = {"mesh": ms.to_dict(), "velocity_dofs": V.dim(), "mixed_dofs": ch.dofs, "dt": dt, "k": k,
           "spinup_steps": a.ns_spinup, "record_steps": a.ns_record, "training_window_steps": win,
           "training_pairs": len(idx), "rollout_steps": int(steps), "rollout_time": float(steps * k * dt),
           "data_seconds": data_seconds, "epochs": a.ns_epochs, "seeds": a.seeds,
           "fe_solver_on_this_mesh": {"strouhal_from_lift": st_cl, "cl_max": float(np.max(CL)),
                                      "cl_amplitude": cl_amp, "cd_max": float(np.max(CD)),
                                      "strouhal_from_probe": st_fe, "published": DFG_2D2},
           "fe_lift": {"t": T.tolist(), "cl": CL, "cd": CD}, "probe": X[probe].tolist(),
           "metric": "rollout from the last training state: relative L2 velocity error at each rollout step "
                     "against FE; Strouhal number of the probe's cross-stream velocity over the rollout, "
                     "relative to FE's on the same mesh and window; C_L of a rollout from its velocities k·dt "
                     "apart with the pressure that fits them best (DFGChannel.coefficients_from_velocities), "
                     "beside the same formula on the FE states (fe_cl_from_velocity) and FE's own C_L",
           "runs": {}}
    base = {"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 2, "shape": [2]},
            "output": {"family": "CG", "degree": 2, "shape": [2]}, "encoder": "l2",
            "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": [INFLOW, WALLS, CYLINDER]}, "dtype": "float32"}
    procs = {"spon_mg": {"kind": "mg", "width": 16, "coarse_width": 64, "smooth": 1, "coarse_layers": 4,
                         "linear_skip": True},
             "spon_mg_increment": {"kind": "mg", "width": 16, "coarse_width": 64, "smooth": 1, "coarse_layers": 4}}
    procs["spon_mg_unrolled"] = procs["spon_mg_increment"]
    procs["spon_mg_leapfrog"] = {**procs["spon_mg_increment"], "linear_skip": True}
    # second-order maps: a(u_n - center) = u_n+k - 2 u_n + u_n-k, stepped by leapfrog from the last two
    # training states; center = the training window's mean state
    center = U[:win].mean(0)
    acc_idx = np.arange(k, win - k)
    Xc, Acc = U[acc_idx] - center, U[acc_idx + k] - 2 * U[acc_idx] + U[acc_idx - k]
    sec["leapfrog"] = {"center": "mean of the training window's states", "training_pairs": len(acc_idx),
                       "unroll": a.ns_unroll, "noise": a.ns_noise, "batch_size": a.ns_rollout_batch}

    def lift(states):
        """C_L at each of states[2:] from the velocities k·dt apart (the pressure fitted to them)."""
        return [ch.coefficients_from_velocities(states[j], states[j - 1], states[j - 2], k * dt)[1]
                for j in range(2, len(states))]

    def leapfrog(acc):
        """The rollout u+ = 2u - u- + acc(u - center) from the last two training states (maps
        other than a SPON's, which spon.models.leapfrog_rollout steps)."""
        traj, prev, u = [], U[starts - k], U[starts]
        for _ in range(steps):
            prev, u = u, 2 * u - prev + acc(u - center)
            traj.append(u)
        return torch.stack(traj)

    fe_states = U[np.concatenate([[starts - k, starts], eval_idx])]
    sec["fe_cl_from_velocity"] = lift(fe_states)       # the same formula on FE states: its own error
    sec["fe_cl_at_rollout_times"] = [CL[i] for i in eval_idx]
    st_fe_lift = strouhal(t_eval, sec["fe_cl_at_rollout_times"], U_bar)[0]
    for kind in a.ns_rollout_models.split(","):
        runs = []
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            t1 = time.perf_counter()
            extra = {}                       # what a model records beside the common numbers
            if kind == "linear_leapfrog":
                # the phase prior alone: a = -λ (u - center), λ by least squares in the FE norm (no network)
                inner = (norm.squared(Acc + Xc) - norm.squared(Acc - Xc)).sum() / 4
                lam = -float(inner / norm.squared(Xc).sum())
                secs, params = time.perf_counter() - t1, 1
                traj = leapfrog(lambda x: -lam * x)
                extra = {"lambda": lam}
            elif kind == "fno_leapfrog":
                m = VectorFNO(grid, seed=seed, **SETTINGS["fno"]).fit(Xc, Acc, a.ns_epochs, desc=f"{kind} {seed}")
                secs, params = time.perf_counter() - t1, m.params
                traj = leapfrog(lambda x: m.predict(x[None])[0].reshape(-1))
            elif kind == "fno":
                m = VectorFNO(grid, seed=seed, **SETTINGS["fno"]).fit(Xtr, Ytr, a.ns_epochs, desc=f"fno {seed}")
                secs, params = time.perf_counter() - t1, m.params
                u, traj = U[starts], []
                for _ in range(steps):
                    u = m.predict(u[None])[0].reshape(-1)
                    traj.append(u)
                traj = torch.stack(traj)
            else:
                m = build_spon({**base, "processor": procs[kind], "seed": seed})
                if kind == "spon_mg_leapfrog":
                    hist = fit_leapfrog_map(m, U[:win], k, center=center, epochs=a.ns_epochs,
                                            batch_size=a.ns_rollout_batch,
                                            lr=3e-3, seed=seed, unroll=a.ns_unroll, noise=a.ns_noise,
                                            desc=f"{kind} seed {seed}")
                    extra = {"final_train_loss": hist["train_loss"][-1]}
                elif kind == "spon_mg_unrolled":
                    # the increment map, trained with input noise and pushforward steps (spon.training.unrolled)
                    fit_increment_map(m, U[:win], k, epochs=a.ns_epochs, batch_size=8, lr=3e-3, seed=seed,
                                      unroll=a.ns_unroll, noise=a.ns_noise, desc=f"{kind} seed {seed}")
                elif kind == "spon_mg_increment":
                    # learns the increment u_n+k - u_n in its own relative norm (the change, not the flow, sets
                    # the loss); its Dirichlet data are zero, as the inflow is steady
                    Trainer(m, epochs=a.ns_epochs, batch_size=8, lr=3e-3, seed=seed,
                            desc=f"{kind} seed {seed}").fit((Xtr, Ytr - Xtr))
                else:
                    # starts as the identity (u_n+k = u_n): fine-tuned at a tenth of SPON's rate
                    Trainer(m, epochs=a.ns_epochs, batch_size=8, lr=3e-4, seed=seed,
                            desc=f"{kind} seed {seed}").fit((Xtr, Ytr, {"g": Xtr}))
                secs, params = time.perf_counter() - t1, sum(q.numel() for q in m.parameters())
                if kind == "spon_mg_leapfrog":
                    traj = leapfrog_rollout(m.double(), U[starts - k], U[starts], int(steps), center=center)
                else:
                    traj = rollout(m.double(), U[starts], int(steps), increment=kind != "spon_mg")
            rel = norm.relative_error(traj, U[eval_idx])
            probe_pred = traj.reshape(steps, -1, 2)[:, probe, 1].numpy()
            try:
                st = strouhal(t_eval, probe_pred, U_bar)[0]
            except ValueError:        # no oscillation left in the rollout: no Strouhal number (None)
                st = None
            half = len(probe_pred) // 2       # a decaying rollout still crosses zero: its late amplitude says so
            amp = {"probe_amplitude_second_half": float(np.ptp(probe_pred[half:]) / 2),
                   "fe_probe_amplitude_second_half": float(np.ptp(fe_probe[half:]) / 2)}
            cl = lift(torch.cat([U[[starts - k, starts]], traj.to(U.dtype)]))
            try:
                st_lift = strouhal(t_eval, cl, U_bar)[0]
            except ValueError:
                st_lift = None
            amp["cl_from_velocity"] = cl
            amp["strouhal_from_lift"] = st_lift
            amp["strouhal_from_lift_rel_err"] = None if st_lift is None else abs(st_lift / st_fe_lift - 1)
            amp["cl_amplitude_second_half"] = float(np.ptp(cl[half:]) / 2)
            runs.append({"seed": seed, **extra, "strouhal": st,
                         "strouhal_rel_err": None if st is None else abs(st / st_fe - 1),
                         "rel_l2_over_time": rel.tolist(), "rel_l2": rel.mean().item(),
                         "rel_l2_first_period": rel[: max(1, int(round(1 / (st_fe * U_bar / 0.1) / (k * dt))))]
                         .mean().item(), "probe_v": probe_pred.tolist(),
                         "max_boundary_error": (traj[:, bdofs] - U[eval_idx][:, bdofs]).abs().max().item(),
                         "train_seconds": secs, "params": params, **amp})
            print(kind, {k_: v for k_, v in runs[-1].items() if not isinstance(v, list)}, flush=True)
        sec["runs"][kind] = runs
        sec[kind] = rollout_summary(runs)
        out["navier_stokes_rollout"] = sec
        atomic_write_json(a.out, out)
    sec["fe_probe_v"] = fe_probe.tolist()
    half = len(eval_idx) // 2
    sec["fe_cl_amplitude_second_half"] = float(np.ptp(sec["fe_cl_at_rollout_times"][half:]) / 2)
    sec["fe_strouhal_from_lift_in_rollout_window"] = st_fe_lift
    sec["t_rollout"] = t_eval.tolist()
    mg = [k_ for k_ in ("spon_mg", "spon_mg_increment", "spon_mg_unrolled", "spon_mg_leapfrog") if k_ in sec]
    ok = {k_: sec[k_]["strouhal_rel_err_mean"] for k_ in mg if sec[k_]["rollouts_that_stopped_oscillating"] == 0
          and sec[k_]["strouhal_rel_err_mean"] is not None}
    best = min(ok, key=ok.get) if ok else None
    sec["target"] = {"spon_mg_strouhal_rel_err_at_most": 0.05, "best_spon_mg": best,
                     "met": best is not None and ok[best] <= 0.05}
    return sec


SECTIONS = {"hyperelasticity": hyperelasticity, "stokes_divfree": stokes_divfree, "poisson3d": poisson3d,
            "dfg_2d1": dfg_2d1, "navier_stokes_steady": navier_stokes_steady,
            "navier_stokes_rollout": navier_stokes_rollout}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 seed, 100 training samples, 30 epochs")
    p.add_argument("--h", type=float, default=6.0, help="gmsh size of Cook's membrane base mesh (mm)")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed … first-seed + seeds - 1 (to add seeds to an earlier run, in another file)")
    p.add_argument("--grid", type=int, default=32)
    p.add_argument("--hyper-models",
                   default="spon_mg,spon_mg_green,spon_mg_linear,spon_mg_force,spon_graph,fno,fno_linear",
                   help="models of the hyperelasticity section")
    p.add_argument("--stokes-h", type=float, default=0.25, help="gmsh size of the Stokes unit square base mesh")
    p.add_argument("--p3d-models", default="spon_mg,spon_graph,fno", help="models of the poisson3d section")
    p.add_argument("--grid3d", type=int, default=16,
                   help="grid points per side of the 3D FNO (16³ = 4096 points, more than the 3 670 FE nodes)")
    p.add_argument("--h3d", type=float, default=0.35, help="gmsh size of the 3D cube-with-hole base mesh")
    p.add_argument("--ns-h", type=float, default=0.08, help="gmsh size of the DFG channel's base mesh (refined once)")
    p.add_argument("--ns-train", type=int, default=40)
    p.add_argument("--ns-grid", type=int, default=64, help="FNO grid points per side on the channel's box")
    p.add_argument("--ns-models", default="spon_mg,spon_graph,fno,spon_mg_mixed,spon_mg_divfree",
                   help="models of navier_stokes_steady (spon_mg_mixed: (u, p) on Taylor-Hood; spon_mg_divfree: "
                        "u = curl psi in RT2)")
    p.add_argument("--ns-test", type=int, default=20)
    p.add_argument("--ns-steady-epochs", type=int, default=100, help="epochs of every navier_stokes_steady model")
    p.add_argument("--ns-batch", type=int, default=4, help="batch of the SPON models in navier_stokes_steady")
    p.add_argument("--ns-lr", type=float, default=1e-3,
                   help="peak one-cycle rate of the SPON models in navier_stokes_steady")
    p.add_argument("--ns-dt", type=float, default=0.01)
    p.add_argument("--ns-k", type=int, default=2, help="the learned map advances k time steps")
    p.add_argument("--ns-spinup", type=int, default=800, help="time steps before recording (shedding settles)")
    p.add_argument("--ns-record", type=int, default=250)
    p.add_argument("--ns-window", type=int, default=60, help="recorded steps the one-step map learns from")
    p.add_argument("--ns-epochs", type=int, default=40)
    p.add_argument("--ns-rollout-batch", type=int, default=4, help="batch of spon_mg_leapfrog")
    p.add_argument("--ns-unroll", type=int, default=3, help="spon_mg_unrolled: the most pushforward steps")
    p.add_argument("--ns-noise", type=float, default=0.3,
                   help="spon_mg_unrolled: input noise, relative to the RMS of the true increments")
    p.add_argument("--ns-rollout-models", default="spon_mg,spon_mg_increment,fno",
                   help="models of navier_stokes_rollout (spon_mg_increment learns u_n+k - u_n; "
                        "spon_mg_unrolled as well, with input noise and pushforward steps)")
    p.add_argument("--ns-cache", type=Path, default=None,
                   help="torch file keeping the rollout's FE trajectory: reused when mesh, dt and steps agree")
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {','.join(SECTIONS)}")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", type=Path, default=HERE / "results" / "spon_paper.json")
    a = p.parse_args(argv)
    a.n_train = a.n_train or (100 if a.quick else 200)
    a.epochs = a.epochs or (30 if a.quick else 60)
    a.seeds = a.seeds or (1 if a.quick else 3)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    out = json.loads(a.out.read_text()) if a.out.is_file() else {}
    out["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
                      "torch": torch.__version__, "threads": a.threads}
    out["metric"] = "relative FE L2 error on the same test samples, mean over seeds"
    for name in a.sections.split(","):
        if name not in SECTIONS:
            raise SystemExit(f"--sections: expected some of {','.join(SECTIONS)}, got {name!r}")
        t1 = time.perf_counter()
        sec = SECTIONS[name](a, out)
        out[name] = sec | {"total_seconds": time.perf_counter() - t1}
        atomic_write_json(a.out, out)
        for k, v in sec.items():
            if isinstance(v, dict) and "rel_l2" in v and "max_boundary_error" in v:
                print(f"{name} {k:16s} rel L2 {v['rel_l2']:.4f} ± {v.get('rel_l2_std') or 0:.4f}  "
                      f"max boundary error {v['max_boundary_error']:.1e}")
    print(f"wrote {a.out} ({time.perf_counter() - t0:.0f} s)")
    return out


if __name__ == "__main__":
    main()
