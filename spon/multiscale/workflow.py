"""End-to-end multiscale workflows shared by the demos, the benchmark and ``spon fe2``."""
from __future__ import annotations

import time

import numpy as np

__all__ = ["rve_problem", "train_surrogates", "run_macro", "stress_field_rel_l2"]


MLP_GRID = tuple({"width": w, "depth": d} for w in (64, 128) for d in (3, 4))


def small_strain_sampling(E, fraction: float = 0.25, seed: int = 0) -> np.ndarray:
    """Scale the first ``fraction`` of the strains by ``U(0, 1)²``: FE² meets many small
    strains, which a Latin hypercube over the box hardly samples."""
    E = np.array(E, dtype=float)
    n = int(round(fraction * len(E)))
    E[:n] *= np.random.default_rng(seed).random((n, 1)) ** 2
    return E


def rve_problem(rve="fibre", h: float = 0.05, degree: int = 2, materials: dict | None = None, comm=None):
    """The cell problem of a built-in RVE kind, a user's periodic mesh file, or a periodic Firedrake mesh.

    ``materials`` maps the mesh's cell region ids to :class:`~spon.multiscale.Material` laws
    (default: EquiNO's matrix on 1 and fibre on 2). Returns the problem and its description
    (what surrogates record in their metadata). ``comm``: the communicator of the mesh
    (an ensemble member's, for reference FE² over :class:`firedrake.Ensemble`).
    """
    import firedrake as fd

    from ..mesh import RVE_KINDS, read_mesh, rve_mesh
    from .micro import RVEProblem, equino_materials

    mats = materials if materials is not None else equino_materials()
    if isinstance(rve, fd.MeshGeometry):
        mesh, info = rve, {"mesh": rve.name, "degree": degree}
    elif isinstance(rve, str) and rve in RVE_KINDS:
        mesh, info = rve_mesh(rve, h=h, comm=comm), {"kind": rve, "h": h, "degree": degree}
    else:
        from pathlib import Path
        path = Path(rve)
        if not path.is_file():
            raise ValueError(f"rve: expected one of {RVE_KINDS}, a periodic mesh file or a firedrake mesh; "
                             f"got {rve!r}")
        import hashlib
        mesh = read_mesh(path, periodic=True, **({} if comm is None else {"comm": comm}))
        info = {"mesh_file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "degree": degree}
    return RVEProblem(mesh, mats, degree=degree), info


def train_surrogates(kind="fibre", h: float = 0.05, degree: int = 2, n_train: int = 100,
                     n_test: int = 50, n_val: int = 0, box: float = 0.04, tol: float = 1e-6, adam_steps: int = 1000,
                     lbfgs_steps: int = 1000, collocation: int = 256, small_fraction: float = 0.25,
                     mlp_steps: int = 3000, mlp_lbfgs_steps: int = 1000, mlp_grid=MLP_GRID, mlp_folds: int = 4,
                     mlp: bool = True, seed: int = 0, progress: bool = True, materials: dict | None = None,
                     pod_anchors: float = 1e-4, equino_form: str = "secant"):
    """RVE → snapshots → POD → EquiNO (physics-informed) and σ̄-MLP (data) → held-out errors.

    Both surrogates get the same training snapshots (a Latin hypercube with
    ``small_fraction`` of it pulled towards zero strain), zero-strain anchoring
    (EquiNO by construction, the MLP by ``σ̄(0) = 0``), Adam then L-BFGS. The
    MLP's settings are chosen by ``mlp_folds``-fold cross-validation over
    ``mlp_grid`` on the training snapshots, then refit on all of them (σ̄ and C̄
    labels); ``mlp=False`` skips it. Test snapshots are a plain Latin hypercube,
    seen by neither (``n_val`` more, from their own hypercube, are returned as ``val``).
    ``trace`` records the held-out σ̄ and C̄ errors against training seconds.

    ``kind`` is a built-in RVE kind (meshed with size ``h``), a user's periodic mesh
    file (read with ``read_mesh(..., periodic=True)``) or a periodic Firedrake mesh;
    ``materials`` maps its cell region ids to laws (see :func:`rve_problem`).

    ``pod_anchors > 0`` adds the cell solutions at ``pod_anchors · e_i`` (the linear regime)
    to EquiNO's POD, scaled to the snapshots' mean norm (see :meth:`EquiNO.from_snapshots`);
    they are not training data for either surrogate. ``equino_form``: EquiNO's coefficient
    form (``"secant"``, ``c = G(ε̄) ε̄``, or ``"offset"``, ``c = N(ε̄) − N(0)``)."""
    from .equino import EquiNO
    from .fit import fit_equino, fit_stress_mlp, select_stress_mlp
    from .metrics import error_table, field_errors
    from .snapshots import RVEQuadrature, collect_snapshots, latin_hypercube
    from .stress_mlp import StressMLP

    rve, rve_info = rve_problem(kind, h=h, degree=degree, materials=materials)
    mats = rve.materials
    quad = RVEQuadrature(rve)
    strains = small_strain_sampling(latin_hypercube(n_train, box, seed=seed), small_fraction, seed=seed)
    train = collect_snapshots(rve, strains, quad, progress=progress)
    test = collect_snapshots(rve, latin_hypercube(n_test, box, seed=seed + 1000), quad, progress=progress)
    val = (collect_snapshots(rve, latin_hypercube(n_val, box, seed=seed + 2000), quad, progress=progress)
           if n_val else None)

    def point(model, seconds, phase):
        e = field_errors(model, test, quad)
        return {"phase": phase, "seconds": seconds, "sigma_bar": e["sigma_bar"], "tangent": e["tangent"]}

    anchors = collect_snapshots(rve, pod_anchors * np.eye(3), quad, progress=False) if pod_anchors else None
    t0 = time.perf_counter()
    equino = EquiNO.from_snapshots(train, quad, mats, tol=tol, box=box, seed=seed,
                                   meta={"rve": rve_info}, anchors=anchors, form=equino_form)
    hist = fit_equino(equino, steps=adam_steps, collocation=collocation, seed=seed, progress=progress)
    t_adam = time.perf_counter() - t0
    trace_e = [point(equino, t_adam, "adam")]
    t0 = time.perf_counter()
    if lbfgs_steps:
        hist += fit_equino(equino, steps=0, lbfgs_steps=lbfgs_steps, collocation=collocation, seed=seed,
                           progress=progress)
    t_equino = t_adam + time.perf_counter() - t0
    trace_e.append(point(equino, t_equino, "l-bfgs"))

    out = {"rve": rve, "quadrature": quad, "train": train, "test": test, "equino": equino, "loss_history": hist,
           "errors": {"equino": field_errors(equino, test, quad)},
           "error_tables": {"equino": error_table(equino, test, quad)}, "val": val,
           "seconds": {"snapshots": sum(x.seconds for x in (train, test, val, anchors) if x is not None),
                       "train_equino": t_equino},
           "trace": {"equino": trace_e}, "modes": {"u": equino.n_u, "stress": equino.n_sigma},
           "pod_energy_kept": {k: float(lam[:n].sum() / lam.sum()) for (k, lam), n in
                               zip(equino.pod_energy.items(), (equino.n_u, equino.n_sigma))}}
    if not mlp:
        return out
    t0 = time.perf_counter()
    fit_kw = {"steps": mlp_steps, "lbfgs_steps": mlp_lbfgs_steps}
    best, table = select_stress_mlp(train.strain, train.stress, train.tangent, grid=mlp_grid, folds=mlp_folds,
                                    box=box, seed=seed, progress=progress, **fit_kw)
    t_search = time.perf_counter() - t0
    model = StressMLP(box=box, **best, meta={"rve": rve_info})
    fit_stress_mlp(model, train.strain, train.stress, train.tangent, seed=seed, progress=progress, **fit_kw)
    t_mlp = time.perf_counter() - t0
    out["mlp"] = model
    out["errors"]["mlp"] = field_errors(model, test, quad)
    out["error_tables"]["mlp"] = error_table(model, test, quad)
    out["seconds"] |= {"train_mlp": t_mlp, "mlp_search": t_search}
    out["trace"]["mlp"] = [point(model, t_mlp, "cross-validation + final fit")]
    out["mlp_search"] = {"grid": [dict(g) for g in mlp_grid], "folds": mlp_folds, "table": table, "chosen": best}
    return out


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
