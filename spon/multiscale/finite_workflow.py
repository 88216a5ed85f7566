"""The finite-strain surrogate workflow in one place: snapshots → POD → EquiNO / MLP / least squares →
held-out errors (with rotations) and frame indifference; used by the benchmarks and the tutorial.

Checkpoints are chosen on a validation split: training runs in rounds (Adam, then L-BFGS rounds of 200
iterations) and the state with the lowest validation ``P̄`` error is kept; the test split is only read at
the end.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch

from .stretch import StretchQuadrature, collect_stretch_snapshots, sample_stretches
from .stretch_equino import StretchEquiNO, StretchLeastSquares, StretchMLP, fit_stretch_mlp

__all__ = ["mean_std", "summarise_errors", "random_rotations", "rotated_snapshots", "stress_errors", "frame_indifference_error",
           "train_equino_validated", "train_mlp_validated", "least_squares_models", "FiniteStrainData",
           "finite_strain_data"]


def mean_std(values) -> dict:
    """``{"mean", "std"}`` over the first axis (seeds); std 0 for one value."""
    v = np.asarray(values, dtype=float)
    return {"mean": v.mean(0).tolist(), "std": (v.std(0, ddof=1) if len(v) > 1 else 0 * v.mean(0)).tolist()}


def summarise_errors(runs) -> dict:
    """Mean and std over seeds of the held-out errors of :func:`stress_errors` (``run["held_out"]``) and the
    worst frame-indifference error (``None`` where it was not measured)."""
    comps = runs[0]["held_out"]["components"]
    frames = [r["frame_indifference_error"] for r in runs if r.get("frame_indifference_error") is not None]
    return {"seeds": len(runs),
            "P_bar_mean": mean_std([r["held_out"]["P_bar"]["mean"] for r in runs]),
            "P_bar_median": mean_std([r["held_out"]["P_bar"]["median"] for r in runs]),
            "components_median": {c: mean_std([r["held_out"]["components"][c]["median"] for r in runs])
                                  for c in comps},
            "components_mean": {c: mean_std([r["held_out"]["components"][c]["mean"] for r in runs]) for c in comps},
            "tangent_mean": mean_std([r["held_out"]["tangent"]["mean"] for r in runs]),
            "frame_indifference_error_max": float(max(frames)) if frames else None}


def random_rotations(n: int, d: int, seed: int = 0) -> np.ndarray:
    """``n`` random proper rotations ``(n, d, d)`` (QR of Gaussian matrices, sign-fixed)."""
    rng = np.random.default_rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal((n, d, d)))
    Q = Q * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]
    Q[:, :, 0] *= np.sign(np.linalg.det(Q))[:, None]
    return Q


class FiniteStrainData:
    """Snapshots of one cell: ``train`` and ``val`` at stretches; ``test`` at rotated stretches
    ``F = Q Ū``, each solved directly by the cell problem (``test_F``, ``test_P``, ``test_A``)."""

    def __init__(self, rve, quad, train, val, test_F, test_P, test_A, box, stretch_min, seconds):
        self.rve, self.quad, self.train, self.val = rve, quad, train, val
        self.test_F, self.test_P, self.test_A = test_F, test_P, test_A
        self.box, self.stretch_min, self.seconds = box, stretch_min, seconds


def rotated_snapshots(rve, F, progress=True):
    """Cell solutions at arbitrary ``F`` ``(N, d, d)``: ``(P̄, Ā)`` stacked."""
    from tqdm.auto import tqdm
    P, A = [], []
    for Fi in tqdm(F, desc="held-out cell problems", disable=not progress):
        s = rve.solve(Fi)
        P.append(s.stress)
        A.append(s.tangent)
    return np.array(P), np.array(A)


def finite_strain_data(rve, n_train=100, n_val=20, n_test=50, box=0.2, stretch_min=0.85, small_fraction=0.25,
                       seed=0, progress=True) -> FiniteStrainData:
    """Training and validation snapshots at admissible stretches, and held-out rotated stretches.
    For a small-strain cell (``rve.kinematics == "small"``) the samples are strains and the test set is not
    rotated (a rotation is not small)."""
    t0 = time.perf_counter()
    if rve.kinematics == "small":
        stretch_min = 0.0
    quad = StretchQuadrature(rve)
    d = rve.d
    train = collect_stretch_snapshots(rve, quad, sample_stretches(n_train, box, stretch_min, d, seed=seed,
                                                                  small_fraction=small_fraction), progress)
    val = collect_stretch_snapshots(rve, quad, sample_stretches(n_val, box, stretch_min, d, seed=seed + 2000),
                                    progress)
    from .stretch import stretch_from_components    # the test set: solved at the rotated F directly
    Ut = stretch_from_components(torch.as_tensor(sample_stretches(n_test, box, stretch_min, d,
                                                                  seed=seed + 1000))).numpy()
    F = Ut if rve.kinematics == "small" else random_rotations(n_test, d, seed=seed + 1000) @ Ut
    P, A = rotated_snapshots(rve, F, progress)
    return FiniteStrainData(rve, quad, train, val, F, P, A, box, stretch_min, time.perf_counter() - t0)


def _predict(model, F):
    P, A = model.stress_and_tangent(torch.as_tensor(F, dtype=torch.float64), strict=False)
    return P.detach().numpy(), A.detach().numpy()


def stress_errors(model, F, P_ref, A_ref=None) -> dict:
    """Per-sample relative errors: ``|P̄ − P̄*|/|P̄*|`` (Frobenius), each component ``|ΔP_ij|/|P̄*|``,
    and the tangent's; median and mean over the samples."""
    P, A = _predict(model, F)
    nrm = np.linalg.norm(P_ref, axis=(1, 2))
    d = P.shape[-1]
    out = {"P_bar": {"median": float(np.median(np.linalg.norm(P - P_ref, axis=(1, 2)) / nrm)),
                     "mean": float(np.mean(np.linalg.norm(P - P_ref, axis=(1, 2)) / nrm))},
           "components": {}}
    for i in range(d):
        for j in range(d):
            e = np.abs(P[:, i, j] - P_ref[:, i, j]) / nrm
            out["components"][f"P_{'xyz'[i]}{'xyz'[j]}"] = {"median": float(np.median(e)), "mean": float(e.mean())}
    if A_ref is not None:
        e = np.linalg.norm((A - A_ref).reshape(len(A), -1), axis=1) / np.linalg.norm(A_ref.reshape(len(A), -1), axis=1)
        out["tangent"] = {"median": float(np.median(e)), "mean": float(e.mean())}
    return out


def frame_indifference_error(model, F, seed=7) -> float:
    """``max |P̂(QF) − Q P̂(F)| / |P̂(F)|`` over the samples, one random rotation each."""
    Q = random_rotations(len(F), F.shape[-1], seed=seed)
    P = _predict(model, F)[0]
    PQ = _predict(model, Q @ F)[0]
    return float(np.max(np.linalg.norm(PQ - Q @ P, axis=(1, 2)) / np.linalg.norm(P, axis=(1, 2))))


def _val_error(model, snaps):
    with torch.no_grad():
        P = model.first_piola(torch.as_tensor(snaps.F)).numpy()
    return float(np.mean(np.linalg.norm(P - snaps.P, axis=(1, 2)) / np.linalg.norm(snaps.P, axis=(1, 2))))


def train_equino_validated(data, materials, *, adam=1000, lbfgs=1000, n_modes=16, width=64, depth=3, seed=0,
                           collocation=256, batch=64, norm="compliance", progress=True):
    """EquiNO on the training snapshots' POD, trained on the constitutive loss only; the checkpoint with
    the lowest validation error among the end of Adam and every L-BFGS round is returned."""
    import functools

    from .fit import fit_equino
    t0 = time.perf_counter()
    m = StretchEquiNO.from_snapshots(data.train, data.quad, materials, box=data.box, stretch_min=data.stretch_min,
                                     n_u=n_modes, n_sigma=n_modes, width=width, depth=depth, seed=seed,
                                     kinematics=data.rve.kinematics)
    m.constitutive_loss = functools.partial(StretchEquiNO.constitutive_loss, m, norm=norm)
    hist = fit_equino(m, steps=adam, batch=batch, seed=seed, progress=progress)
    best = (_val_error(m, data.val), copy.deepcopy(m.state_dict()), "adam")
    trace = [{"phase": "adam", "steps": adam, "val": best[0]}]
    for r in range((lbfgs + 199) // 200):
        hist += fit_equino(m, steps=0, lbfgs_steps=min(200, lbfgs - 200 * r), collocation=collocation,
                           seed=seed + 100 * r, progress=progress)
        v = _val_error(m, data.val)
        trace.append({"phase": f"lbfgs round {r + 1}", "steps": min(200, lbfgs - 200 * r), "val": v})
        if v < best[0]:
            best = (v, copy.deepcopy(m.state_dict()), f"lbfgs round {r + 1}")
    m.load_state_dict(best[1])
    del m.constitutive_loss
    return m, {"seconds": time.perf_counter() - t0, "final_loss": hist[-1], "best": best[2], "val": best[0],
               "trace": trace, "modes": {"u": m.n_u, "stress": m.n_sigma}}


def train_mlp_validated(data, *, adam=1000, lbfgs=1000, width=64, depth=3, seed=0, progress=True):
    """The P̄-MLP on the training snapshots' ``P̄`` labels, same rounds and checkpoint rule as EquiNO."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    m = StretchMLP(data.rve.d, data.box, width=width, depth=depth, stretch_min=data.stretch_min,
                   kinematics=data.rve.kinematics)
    fit_stretch_mlp(m, data.train.x, data.train.P, steps=adam, seed=seed, progress=progress)
    best = (_val_error(m, data.val), copy.deepcopy(m.state_dict()), "adam")
    trace = [{"phase": "adam", "steps": adam, "val": best[0]}]
    for r in range((lbfgs + 199) // 200):
        fit_stretch_mlp(m, data.train.x, data.train.P, steps=0, lbfgs_steps=min(200, lbfgs - 200 * r), seed=seed,
                        progress=progress)
        v = _val_error(m, data.val)
        trace.append({"phase": f"lbfgs round {r + 1}", "val": v})
        if v < best[0]:
            best = (v, copy.deepcopy(m.state_dict()), f"lbfgs round {r + 1}")
    m.load_state_dict(best[1])
    return m, {"seconds": time.perf_counter() - t0, "best": best[2], "val": best[0], "trace": trace}


def least_squares_models(data, stress_mean_modes, stress_modes):
    """Least squares of the POD stress coefficients on monomials of degree 1 and 2 of the stretch,
    weighted by ``1/|P̄|²`` (relative errors, the networks' criterion)."""
    S = data.train
    b = np.einsum("sqij,q,kqij->sk", S.P_q, data.quad.weights, stress_modes)
    wts = 1 / np.linalg.norm(S.P, axis=(1, 2)) ** 2
    return {f"least_squares_deg{k}": StretchLeastSquares(data.rve.d, data.box, stress_mean_modes, k,
                                                         stretch_min=data.stretch_min,
                                                         kinematics=data.rve.kinematics).fit(S.x, b, wts)
            for k in (1, 2)}
