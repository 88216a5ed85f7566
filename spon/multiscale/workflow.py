"""End-to-end multiscale workflows shared by the demos, the benchmark and ``spon fe2``."""
from __future__ import annotations

import time

import numpy as np

__all__ = ["train_surrogates", "run_macro", "stress_field_rel_l2"]


def train_surrogates(kind: str = "fibre", h: float = 0.05, degree: int = 2, n_train: int = 100,
                     n_test: int = 50, box: float = 0.04, tol: float = 1e-6, adam_steps: int = 1000,
                     lbfgs_steps: int = 1000, collocation: int = 256, mlp_steps: int = 3000, seed: int = 0,
                     progress: bool = True):
    """RVE → LHS snapshots → POD → EquiNO (physics-informed) and σ̄-MLP (data) → held-out errors."""
    from ..mesh import rve_mesh
    from .equino import EquiNO
    from .fit import fit_equino, fit_stress_mlp
    from .metrics import field_errors
    from .micro import RVEProblem, equino_materials
    from .snapshots import RVEQuadrature, collect_snapshots, latin_hypercube
    from .stress_mlp import StressMLP

    mats = equino_materials()
    rve = RVEProblem(rve_mesh(kind, h=h), mats, degree=degree)
    quad = RVEQuadrature(rve)
    train = collect_snapshots(rve, latin_hypercube(n_train, box, seed=seed), quad, progress=progress)
    test = collect_snapshots(rve, latin_hypercube(n_test, box, seed=seed + 1000), quad, progress=progress)
    t0 = time.perf_counter()
    equino = EquiNO.from_snapshots(train, quad, mats, tol=tol, box=box, seed=seed,
                                   meta={"rve": {"kind": kind, "h": h, "degree": degree}})
    hist = fit_equino(equino, steps=adam_steps, lbfgs_steps=lbfgs_steps, collocation=collocation, seed=seed,
                      progress=progress)
    t_equino = time.perf_counter() - t0
    t0 = time.perf_counter()
    mlp = StressMLP(box=box, meta={"rve": {"kind": kind, "h": h, "degree": degree}})
    fit_stress_mlp(mlp, train.strain, train.stress, steps=mlp_steps, seed=seed, progress=progress)
    t_mlp = time.perf_counter() - t0
    return {"rve": rve, "quadrature": quad, "train": train, "test": test, "equino": equino, "mlp": mlp,
            "loss_history": hist,
            "errors": {"equino": field_errors(equino, test, quad),
                       "mlp": field_errors(mlp, test, quad)},
            "seconds": {"snapshots": train.seconds + test.seconds, "train_equino": t_equino,
                        "train_mlp": t_mlp},
            "modes": {"u": equino.n_u, "stress": equino.n_sigma}}


def run_macro(mesh, material, displacements, degree: int = 2, progress: bool = True, **kwargs):
    """One macro load path; returns the problem, its history and the wall time.
    ``kwargs`` go to :class:`~spon.multiscale.macro.MacroProblem` (boundary ids, tolerances)."""
    from .macro import MacroProblem
    mp = MacroProblem(mesh, material, degree=degree, **kwargs)
    t0 = time.perf_counter()
    hist = mp.solve(displacements, progress=progress)
    return mp, hist, time.perf_counter() - t0


def stress_field_rel_l2(a, b, dx) -> float:
    """Relative L² distance ``‖a − b‖ / ‖b‖`` of two macro σ̄ fields (Voigt, σ:σ norm)."""
    import firedrake as fd
    w = (1.0, 1.0, 2.0)
    num = fd.assemble(sum(w[i] * (a[i] - b[i]) ** 2 for i in range(3)) * dx)
    den = fd.assemble(sum(w[i] * b[i] ** 2 for i in range(3)) * dx)
    return float(np.sqrt(num / den))
