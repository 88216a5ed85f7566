"""Source-to-solution maps, where the truth is linear (``benchmarks/results/accuracy.json``).

``poisson_source``: −Δu = f in the unit square (gmsh, 3-level hierarchy), u = 0 on ∂Ω, P1, f a
zero-mean Matérn field (length 0.2, ν = 3). ``elasticity_source``: plane-strain linear elasticity on
Cook's membrane (the hyperelasticity problem's μ, λ, mesh and random body force), clamped edge exact,
[CG1]². ``elasticity3d``: 3D linear elasticity on a gmsh bracket (a 3 × 1 × 1 bar with a hole, E = 1,
ν = 0.3, clamped at x = 0, 2-level hierarchy), a random body force (three Matérn components, length 0.5,
ν = 2.5), [CG1]³. Rows: zero; least squares on the DOFs; the linear
multigrid processor untrained (geometric multigrid for the FE Laplacian, scale fitted: what the
structure alone gives), trained on the labelled pairs, on the energy alone (fresh unlabelled
sources) and on both; SPON-MG; the FNO. The linear multigrid sees the load vector ``b = M f``
(``moments``); SPON-MG its own recipe's L² projection; the FNO f on its grid. Each row records
``rel_l2_mean``, ``rel_l2_std``, ``seeds``, ``steps``, ``train_seconds``, ``max_boundary_error`` and,
for a linear model, ``linearity_error`` = ‖S(αf + βg) − αS(f) − βS(g)‖ / ‖αS(f) + βS(g)‖::

    python -m benchmarks run poisson_source elasticity_source --seeds 3       # every model, 100 epochs
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from spon.data import PoissonProblem
from spon.fem import FENorm, GridTransfer, assembly
from spon.fem.sparse import petsc_to_torch, spmv
from spon.mesh import MeshSpec

from ..baselines import fno, spon as spon_baseline
from ..baselines.least_squares import LeastSquaresOperator
from ..harness import (RESULTS, Results, data_path_check, generate, machine, mean_std, set_threads,
                       validation_tail)


def linearity_error(predict, X):
    g = torch.Generator().manual_seed(1)
    a, b = 2.5, -0.7
    f, h = X[:4], X[4:8][torch.randperm(4, generator=g)]
    lhs, rhs = predict(a * f + b * h), a * predict(f) + b * predict(h)
    return ((lhs - rhs).norm() / rhs.norm()).item()


def normalised_energy(V, U, a):
    """``J(u; f) / ‖f‖²_M`` with ``J = ½ a(u, u) − ∫ f · u``: on the Dirichlet decoder's space its
    minimiser is the FE solution, and its excess over the minimum is half the energy-norm error
    squared (:class:`spon.physics.EnergyFunctional`, per sample through the adjoint)."""
    import firedrake as fd
    from spon.physics import EnergyFunctional

    J = EnergyFunctional(V, lambda u, f: 0.5 * a(u, u) - fd.inner(f, u) * fd.dx, data_spaces=[U])
    M = assembly.mass_matrix(U)

    def loss(pred, f):
        f = f.reshape(len(f), -1)
        return J(pred.reshape(len(pred), -1), f) / (f * spmv(M.to(f.dtype), f)).sum(dim=1)
    return loss


def fit_physics(m, pool, energy, epochs, n_ref, mass, stiffness, labelled=None, desc="", val=None):
    """Label-free (or hybrid) training on ``pool`` with the energy, for the optimiser steps of ``epochs``
    over ``n_ref`` samples; the output scale is the energy's own optimum along the untrained model's
    output, ``s = ⟨p, M f⟩ / ⟨p, K p⟩``. ``val``: a labelled validation split whose best epoch is kept
    (hybrid only: a label-free model keeps its last weights). Returns the optimiser steps."""
    from spon.training import Trainer

    model = m.model
    model.fit_scales(pool)                       # input scale only: no labels
    proc = model.processor
    with torch.no_grad():
        p = model(pool[:64]).reshape(min(64, len(pool)), -1) / model.output_scale
        if proc.hparams.get("infer_operator"):
            # label-free operator inference: (K v, v) is an exact pair for any v held at zero on the Dirichlet
            # nodes (the load that v solves for, no solve needed); v = the untrained model's smooth outputs
            held = proc.geo[-1].held.repeat_interleave(proc.c).to(p.dtype)
            v = p * (1 - held) * model.input_scale
            proc.set_operator(*proc.operator_normal_equations(spmv(stiffness, v), v))
            s = model.input_scale.item()
        else:
            b = spmv(mass, pool[:64])
            s = float((p * b).sum() / (p * spmv(stiffness, p)).sum())
    if labelled is None:
        X, Y, lab = pool, None, None
    else:
        X = torch.cat([labelled[0], pool])
        Y = torch.cat([labelled[1], torch.zeros(len(pool), labelled[1].shape[1], dtype=labelled[1].dtype)])
        lab = torch.cat([torch.ones(len(labelled[0]), dtype=torch.bool), torch.zeros(len(pool), dtype=torch.bool)])
    epochs_pool = max(1, round(epochs * n_ref / len(X)))
    m.history = Trainer(model, epochs=epochs_pool, batch_size=m.batch_size, lr=m.lr, seed=m.seed, desc=desc).fit(
        (X, Y), val, physics=energy, labelled=lab, output_scale=None if labelled is not None else s,
        restore_best=val is not None)
    return epochs_pool * -(-len(X) // m.batch_size)


class _Elasticity:
    """Body force (the hyperelasticity problem's) to linear elastic displacement on Cook's membrane."""

    def __init__(self, ms):
        from spon.data import ElasticityProblem, HyperelasticityProblem

        self.forces = HyperelasticityProblem(ms)
        mu, lm = self.forces.params["mu"], self.forces.params["lmbda"]
        self.lin = ElasticityProblem(ms, youngs=mu * (3 * lm + 2 * mu) / (lm + mu), poisson=lm / (2 * (lm + mu)),
                                     clamp=1)
        self.input_space, self.output_space, self.bcs = self.lin.input_space, self.lin.output_space, self.lin.bcs
        self.mu, self.lmbda = mu, lm

    def metadata(self):
        return {"problem": "elasticity_source", "forces": self.forces.metadata(), "solve": self.lin.metadata()}

    def sample_inputs(self, n, seed):
        return self.forces.sample_inputs(n, seed=seed).reshape(n, -1)

    def solve(self, X):
        return self.lin.solve(X.reshape(len(X), -1, 2), progress=False).reshape(len(X), -1)

    def form(self, u, v):
        import firedrake as fd
        eps = fd.sym(fd.grad(u))
        return (2 * self.mu * fd.inner(eps, fd.sym(fd.grad(v))) + self.lmbda * fd.div(u) * fd.div(v)) * fd.dx


class _Elasticity3D(_Elasticity):
    """Body force to displacement of a clamped 3D bracket (:class:`spon.data.ElasticityProblem` in 3D)."""

    def __init__(self, ms):
        from spon.data import ElasticityProblem

        self.lin = ElasticityProblem(ms, youngs=1.0, poisson=0.3, length_scale=0.5, smoothness=2.5, clamp=1)
        self.input_space, self.output_space, self.bcs = self.lin.input_space, self.lin.output_space, self.lin.bcs
        self.mu, self.lmbda = 1.0 / 2.6, 0.3 / (1.3 * 0.4)

    def metadata(self):
        return {"problem": "elasticity3d", "solve": self.lin.metadata()}

    def sample_inputs(self, n, seed):
        return self.lin.sample_inputs(n, seed=seed).reshape(n, -1)

    def solve(self, X):
        return self.lin.solve(X.reshape(len(X), -1, 3), progress=False).reshape(len(X), -1)


def poisson_source(argv=None):
    return main(["--problem", "poisson_source", *(argv or [])])


def elasticity3d(argv=None):
    return main(["--problem", "elasticity3d", *(argv or [])])


def elasticity_source(argv=None):
    return main(["--problem", "elasticity_source", *(argv or [])])


def main(argv=None):
    import firedrake as fd

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--problem", default="poisson_source", choices=["poisson_source", "elasticity_source",
                                                                        "elasticity3d"])
    p.add_argument("--h", type=float, default=None,
                   help="gmsh size of the base mesh, refined twice (default 0.2; Cook's membrane 6 mm)")
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--n-val", type=int, default=20,
                   help="a validation split beside the training pairs: the networks' best epoch and least "
                        "squares' regularisation are chosen on it, never on the test set")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--cycles", type=int, default=3)
    p.add_argument("--models", default="zero,least_squares,linear_mg_untrained,linear_mg,linear_mg_physics,"
                                        "linear_mg_hybrid,spon_graph,spon_mg,fno")
    p.add_argument("--grid", type=int, default=32, help="FNO grid points per side (3D: --grid3d)")
    p.add_argument("--grid3d", type=int, default=16)
    p.add_argument("--linear-lr", type=float, default=1e-3,
                   help="the linear multigrid's learning rate (it starts from the inferred operator)")
    p.add_argument("--pool", type=int, default=3000,
                   help="fresh inputs (no solves) for physics-informed training: each is seen about once")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--domain", default="unit_square", choices=["unit_square", "l_shape"],
                   help="poisson_source's domain; the L-shape's section is poisson_source_l_shape")
    p.add_argument("--sizes", default=None,
                   help="a data-size curve instead of the table: comma-separated training set sizes (the first n "
                        "of the largest), written to the section <problem>_curve")
    p.add_argument("--out", type=Path, default=RESULTS / "accuracy.json")
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    t0 = time.perf_counter()
    elastic, three = a.problem in ("elasticity_source", "elasticity3d"), a.problem == "elasticity3d"
    if three:
        ms = MeshSpec("bracket", a.h or 0.25, 1)
        prob = _Elasticity3D(ms)
    else:
        ms = MeshSpec("cook_membrane", a.h or 6.0, 2) if elastic else MeshSpec(a.domain, a.h or 0.2, 2)
        prob = _Elasticity(ms) if elastic else PoissonProblem(ms, length_scale=0.2)
    name = a.problem + ("" if elastic or a.domain == "unit_square" else f"_{a.domain}")
    sizes = sorted(int(k) for k in a.sizes.split(",")) if a.sizes else None
    if sizes:
        a.n_train, name = sizes[-1], name + "_curve"
    n = a.n_test + a.n_train + a.n_val
    X, Y, data_seconds = generate(prob, n, flat=elastic)
    Xte, Yte = X[:a.n_test], Y[:a.n_test]
    Xtr, Ytr = X[a.n_test:a.n_test + a.n_train], Y[a.n_test:a.n_test + a.n_train]
    Xv, Yv = X[a.n_test + a.n_train:], Y[a.n_test + a.n_train:]
    V = prob.output_space
    c = (3 if three else 2) if elastic else 1
    norm = FENorm(V)
    bdofs = (c * torch.as_tensor(prob.bcs[0].nodes)[:, None] + torch.arange(c)).flatten()
    out = Results(a.out)
    sec = {"problem": prob.metadata(), "dofs": V.dim(), "n_train": a.n_train, "n_test": a.n_test, "n_val": a.n_val,
           "data_seconds": data_seconds, "machine": machine(threads), "models": {}}
    old = out.get(name)
    if old and all(old.get(k) == sec[k] for k in ("problem", "dofs", "n_train", "n_test", "n_val")):
        sec["models"] = dict(old["models"])        # same data: the models run now replace their own rows only
        if sizes:
            sec["sizes"] = dict(old.get("sizes", {}))

    def val_error(P, T):
        return norm.relative_error(P, T).mean().item()

    def curve(history, key):
        """The validation curve's last 10 % of epochs and the best epoch (chosen on validation)."""
        c = history.get(key, []) if history else []
        if not c or all(v != v for v in c):        # no validation (a label-free run keeps its last weights)
            return {"epochs": len(c)} if c else {}
        return {"epochs": len(c), "best_epoch": history.get("best_epoch"),
                "val_last_10pct": validation_tail(c), "val_best": min(c)}

    def score(pred):
        return {"rel_l2": norm.relative_error(pred, Yte).mean().item(),
                "max_boundary_error": (pred[:, bdofs] - Yte[:, bdofs]).abs().max().item()}

    space = {"family": "CG", "degree": 1, **({"shape": [c]} if elastic else {})}
    spec = {"mesh": ms.to_dict(), "input": space, "output": space, "encoder": "moments",
            "decoder": {"kind": "dirichlet", "value": 0.0, **({"boundary": [1]} if elastic else {})},
            "dtype": "float64"}
    form = prob.form if elastic else (lambda u, v: fd.inner(fd.grad(u), fd.grad(v)) * fd.dx)
    energy = normalised_energy(V, prob.input_space, form)
    mass = assembly.mass_matrix(prob.input_space)
    stiffness = petsc_to_torch(fd.assemble(form(fd.TrialFunction(V), fd.TestFunction(V)), mat_type="aij"))

    def run(kind, Xtr, Ytr):
        """Every seed of one model trained on ``(Xtr, Ytr)``: its summary row."""
        runs = []
        for seed in range(1 if kind in ("zero", "least_squares", "linear_mg_untrained") else a.seeds):
            t1 = time.perf_counter()
            steps, lin, conv = 0, None, {}
            if kind == "zero":
                pred = torch.zeros_like(Yte)
            elif kind == "least_squares":
                m = LeastSquaresOperator(error=val_error).fit(Xtr, Ytr, val=(Xv, Yv))
                pred, lin = m.predict(Xte), linearity_error(m.predict, Xte)
            elif kind in ("linear_mg_physics", "linear_mg_hybrid"):
                m = spon_baseline.SPONModel({**spec, "processor": {"kind": "linear_mg", "cycles": a.cycles,
                                                                   "hidden": 16}}, seed, lr=a.linear_lr)
                pool = prob.sample_inputs(a.pool, seed=10_000 + seed)       # fresh inputs, no labels
                pool = pool.reshape(len(pool), -1)
                steps = fit_physics(m, pool, energy, a.epochs, len(Xtr), mass, stiffness,
                                    (Xtr, Ytr) if kind == "linear_mg_hybrid" else None, desc=f"{kind} seed {seed}",
                                    val=None if kind == "linear_mg_physics" else (Xv, Yv))
                conv = curve(m.history, "test_rel")
                pred = m.predict(Xte)
                lin = linearity_error(m.predict, Xte)
            elif kind.startswith("linear_mg") or kind in ("spon_mg", "spon_graph"):
                proc = ({"kind": "linear_mg", "cycles": a.cycles, "hidden": 16} if kind.startswith("linear_mg")
                        else spon_baseline.mg() if kind == "spon_mg" else dict(spon_baseline.GRAPH))
                # SPON-MG keeps its own recipe (the L2-projection encoder, rate 3e-3)
                m = spon_baseline.SPONModel({**spec, "processor": proc, **({} if proc["kind"] == "linear_mg" else
                                                                          {"encoder": "l2"})},
                                            seed, lr=a.linear_lr if proc["kind"] == "linear_mg" else 3e-3)
                if kind == "linear_mg_untrained":
                    m.model.fit_scales(Xtr, Ytr)
                else:
                    m.fit(Xtr, Ytr, a.epochs, desc=f"{kind} seed {seed}", val=(Xv, Yv))
                    steps = a.epochs * -(-len(Xtr) // m.batch_size)
                    conv = curve(m.history, "test_rel")
                pred = m.predict(Xte)
                if proc["kind"] == "linear_mg":
                    lin = linearity_error(m.predict, Xte)
            elif kind == "fno":
                grid = GridTransfer(fd.FunctionSpace(V.mesh(), "CG", 1), n=a.grid3d if three else a.grid)
                sec["fno_data_path"] = data_path_check(grid)        # a linear field through FE -> grid -> FE
                m = fno.GridFNO(grid, seed=seed, c=c, **fno.SETTINGS["fno3d" if three else "fno"]).fit(
                    Xtr, Ytr, a.epochs, desc=f"fno {seed}", val=(Xv, Yv, val_error))
                conv = curve(m.history, "val_rel")
                pred = m.predict(Xte)
                steps = a.epochs * -(-len(Xtr) // 20)
            else:
                raise SystemExit(f"--models: unknown model {kind!r}")
            runs.append({"seed": seed, **score(pred), "train_seconds": time.perf_counter() - t1, "steps": steps,
                         **conv,
                         **({"linearity_error": lin} if lin is not None else {})})
            print(kind, runs[-1], flush=True)
        mean, std = mean_std([r["rel_l2"] for r in runs])
        return {"rel_l2_mean": mean, "rel_l2_std": std, "seeds": len(runs), "steps": runs[0]["steps"],
                "train_seconds": float(np.mean([r["train_seconds"] for r in runs])),
                "max_boundary_error": max(r["max_boundary_error"] for r in runs), "runs": runs,
                **({"linearity_error": max(r["linearity_error"] for r in runs)} if "linearity_error" in runs[0]
                   else {})}

    for kind in a.models.split(","):
        if sizes:
            for k in sizes:
                sec.setdefault("sizes", {}).setdefault(str(k), {})[kind] = run(kind, Xtr[:k], Ytr[:k])
                out[name] = sec
        else:
            sec["models"][kind] = run(kind, Xtr, Ytr)
            out[name] = sec
    sec["total_seconds"] = time.perf_counter() - t0
    out[name] = sec
    return out.data


if __name__ == "__main__":
    main()
