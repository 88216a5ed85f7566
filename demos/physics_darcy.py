"""Physics-informed SPON-MG on Darcy: without labels, with a few, and with all.

The network output u and the input κ enter the Darcy residual
``F(u; κ)(v) = ∫ κ ∇u·∇v − f v`` (BC rows removed); the physics loss is
``‖F(u; κ)‖²_{H⁻¹} / ‖F(0; κ)‖²_{H⁻¹}`` per sample, differentiated through
Firedrake by :class:`spon.physics.ResidualFunctional` (one batched assembly and
one multi-RHS solve per batch). The Dirichlet decoder holds u = 0 on ∂Ω.

1. Side by side: the same model trained on labels only (data), and on the
   physics loss only (no solution labels at all).
2. The hybrid curve: test error against the number of labelled samples, with
   the physics loss on every input and without it.

Prints the errors; writes ``physics_darcy.png`` (curve) and
``physics_darcy_fields.png``, and a ``.pvd`` of a test sample.

Run: ``python demos/physics_darcy.py`` (a few minutes on 2 cores).
"""
import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import tripcolor  # noqa: E402

from spon.data import DarcyProblem  # noqa: E402
from spon.fem import FENorm, to_functions  # noqa: E402
from spon.mesh import MeshSpec  # noqa: E402
from spon.models import build_spon  # noqa: E402
from spon.physics import ResidualFunctional  # noqa: E402
from spon.training import Trainer  # noqa: E402


def darcy_physics(problem, norm="L2_preconditioned"):
    """Per-sample relative residual of the Darcy equation, as a torch loss."""
    V, K = problem.output_space, problem.input_space
    f = problem.params["forcing"]

    def residual(u, v, kappa):
        return kappa * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - f * v * fd.dx

    R = ResidualFunctional(V, residual, bcs=problem.bcs, norm=norm, data_spaces=[K])

    def loss(pred, kappa):
        u, k = pred.double(), kappa.double()
        with torch.no_grad():
            J0 = R(torch.zeros_like(u), k)
        return (R(u, k) / J0).to(pred.dtype)
    return loss


def typical_scale(problem):
    """Size of the solution for the mean conductivity: a labels-free output scale."""
    V = problem.output_space
    kbar = 0.5 * (problem.params["high"] + problem.params["low"])
    u, v, w = fd.TrialFunction(V), fd.TestFunction(V), fd.Function(V)
    fd.solve(kbar * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx == problem.params["forcing"] * v * fd.dx, w,
             bcs=problem.bcs)
    return float(w.dat.data_ro.std())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--h", type=float, default=0.15)
    p.add_argument("--n-train", type=int, default=100)
    p.add_argument("--n-test", type=int, default=30)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--labelled", default="5,20", help="label counts for the hybrid curve")
    p.add_argument("--norm", default="L2_preconditioned", help="residual norm of the physics loss")
    p.add_argument("--only", choices=["all", "side_by_side"], default="all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/physics_darcy"))
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(os.cpu_count())

    ms = MeshSpec("unit_square", a.h, 2)
    prob = DarcyProblem(ms)
    X = prob.sample_inputs(a.n_train + a.n_test, seed=a.seed)
    Y = prob.solve(X)
    Xtr, Ytr, Xte, Yte = X[:a.n_train], Y[:a.n_train], X[a.n_train:], Y[a.n_train:]
    physics, scale = darcy_physics(prob, a.norm), typical_scale(prob)
    l2 = FENorm(prob.output_space)
    spec = {"mesh": ms.to_dict(), "input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1},
            "encoder": "l2", "decoder": {"kind": "dirichlet"}, "dtype": "float32", "seed": a.seed,
            "processor": {"kind": "mg", "width": 24, "coarse_width": 48}}

    def run(n_lab, with_physics, desc):
        model = build_spon(spec)
        lab = torch.zeros(a.n_train, dtype=torch.bool)
        lab[:n_lab] = True
        tr = Trainer(model, epochs=a.epochs, batch_size=16, lr=3e-3, seed=a.seed, desc=desc)
        tr.fit((Xtr, Ytr), labelled=lab, physics=physics if with_physics else None,
               output_scale=None if n_lab else scale)
        with torch.no_grad():
            pred = model(Xte.float()).double()
        return l2.relative_error(pred, Yte).mean().item(), pred

    results = {}
    results["data_all"], pred_data = run(a.n_train, False, f"data ({a.n_train} labels)")
    results["physics_only"], pred_phys = run(0, True, "physics (no labels)")
    curve = {"labels": [0], "hybrid": [results["physics_only"]], "data_only": [float("nan")]}
    for n in (int(s) for s in a.labelled.split(",")):
        curve["labels"].append(n)
        curve["hybrid"].append(run(n, True, f"hybrid ({n} labels)")[0])
        curve["data_only"].append(run(n, False, f"data ({n} labels)")[0])
    curve["labels"].append(a.n_train)
    curve["hybrid"].append(run(a.n_train, True, f"hybrid ({a.n_train} labels)")[0])
    curve["data_only"].append(results["data_all"])
    results["curve"] = curve

    print(f"\ntest relative L2 error ({a.n_test} samples, {prob.output_space.dim()} DOFs, {a.epochs} epochs):")
    print(f"  data-driven, {a.n_train} labels : {results['data_all']:.3e}")
    print(f"  physics only, no labels  : {results['physics_only']:.3e}")
    print("  labels  hybrid      data only")
    for n, h, d in zip(curve["labels"], curve["hybrid"], curve["data_only"]):
        print(f"  {n:6d}  {h:.3e}   {d:.3e}")
    (a.out / "physics_darcy.json").write_text(json.dumps(results, indent=2))

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(curve["labels"], curve["hybrid"], "o-", label="data + physics")
    ax.semilogy(curve["labels"][1:], curve["data_only"][1:], "s--", label="data only")
    ax.set_xlabel("labelled training samples")
    ax.set_ylabel("test relative L² error")
    ax.set_title(f"SPON-MG on Darcy, {a.n_train} training inputs")
    ax.legend()
    fig.savefig(a.out / "physics_darcy.png", dpi=120, bbox_inches="tight")
    plt.close(fig)

    V = prob.output_space
    truth, pd, pp = (to_functions(t[:1], V)[0] for t in (Yte, pred_data, pred_phys))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, f, title in zip(axes, (truth, pd, pp), ("Firedrake solution", "data-driven SPON-MG",
                                                    "physics-informed (no labels)")):
        fig.colorbar(tripcolor(f, axes=ax), ax=ax)
        ax.set_title(title)
        ax.set_aspect("equal")
        ax.set_axis_off()
    fig.savefig(a.out / "physics_darcy_fields.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    truth.rename("truth")
    pd.rename("data_driven")
    pp.rename("physics_informed")
    fd.VTKFile(str(a.out / "physics_darcy.pvd")).write(truth, pd, pp)
    print(f"wrote {a.out}/physics_darcy.png, physics_darcy_fields.png, physics_darcy.pvd, physics_darcy.json")
    return results


if __name__ == "__main__":
    main()
