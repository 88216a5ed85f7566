"""Training loops of the surrogates: EquiNO on its constitutive loss, the σ̄-MLP on data."""
from __future__ import annotations

import math

import torch

from .stress_mlp import StressMLP

__all__ = ["fit_equino", "fit_stress_mlp", "select_stress_mlp"]


def _cosine(opt, steps):
    steps = max(steps, 1)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))


def _shrink(E, fraction, g):
    """Scale a ``fraction`` of the strains by ``U(0, 1)²`` so small strains are sampled too."""
    n = int(round(fraction * len(E)))
    if n:
        E = E.clone()
        E[:n] *= torch.rand(n, 1, generator=g, dtype=E.dtype) ** 2
    return E


def full_batch_lbfgs(params, loss_fn, steps: int, hist: list, desc: str, progress: bool = True):
    """``steps`` iterations of strong-Wolfe L-BFGS on a full-batch ``loss_fn``, appending each loss to ``hist``."""
    from tqdm.auto import tqdm
    bar = tqdm(total=steps, desc=desc, disable=not progress, leave=False)
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=steps, max_eval=steps, history_size=50, tolerance_grad=1e-12,
                            tolerance_change=1e-16, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        hist.append(loss.item())
        bar.update(1)
        return loss

    opt.step(closure)
    bar.close()


def fit_full_batch(net, loss_fn, steps: int, lbfgs_steps: int, lr: float, name: str, progress: bool = True) -> list:
    """Adam with a cosine schedule for ``steps``, then ``lbfgs_steps`` of full-batch L-BFGS, on ``net``'s
    parameters and a full-batch ``loss_fn``; the loss history. Raises if the last loss is not finite."""
    from tqdm.auto import trange
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = _cosine(opt, steps)
    hist = []
    for _ in trange(steps, desc=f"{name} (Adam)", disable=not progress, leave=False):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append(loss.item())
    if lbfgs_steps:
        full_batch_lbfgs(net.parameters(), loss_fn, lbfgs_steps, hist, f"{name} (L-BFGS)", progress)
    if not all(map(math.isfinite, hist[-1:])):
        raise FloatingPointError(f"{name} loss became {hist[-1]}")
    return hist


def fit_equino(model, steps: int = 3000, batch: int = 64, lr: float = 3e-3, seed: int = 0,
               lbfgs_steps: int = 0, collocation: int = 512, reduce: str = "sample", small_fraction: float = 0.25,
               progress: bool = True, callback=None) -> list:
    """Physics-informed training: Adam at strains drawn uniformly in the box each
    step, then (``lbfgs_steps > 0``) full-batch L-BFGS on ``collocation``
    Latin-hypercube strains, which drives the loss orders of magnitude lower.

    ``reduce="sample"`` averages per-strain relative losses, so small strains are
    fitted to the same relative accuracy as large ones; ``small_fraction`` of every
    batch is pulled towards ``ε̄ = 0`` (FE² meets many small strains). Any model with ``box``
    (its input box, one entry per input), ``nets`` and ``constitutive_loss`` trains here
    (:class:`EquiNO`, :class:`~spon.multiscale.stretch_equino.StretchEquiNO`)."""
    from tqdm.auto import tqdm, trange
    g = torch.Generator(device="cpu").manual_seed(seed)
    opt = torch.optim.Adam(model.nets.parameters(), lr=lr)
    sched = _cosine(opt, steps)
    hist = []
    bar = trange(steps, desc="EquiNO (constitutive loss)", disable=not progress)
    for step in bar:
        if hasattr(model, "sample"):      # a model with its own admissible set
            E = model.sample(batch, g, small_fraction)
        else:
            E = (2 * torch.rand(batch, model.box.numel(), generator=g, dtype=torch.float64) - 1) * model.box.cpu()
            E = _shrink(E, small_fraction, g).to(model.box.device)
        loss = model.constitutive_loss(E, reduce=reduce).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"EquiNO loss became {loss.item()} at step {step}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.2e}")
        if callback:
            callback(step, loss.item())
    if lbfgs_steps:
        from .snapshots import latin_hypercube
        box = float(model.box[0])
        bar = tqdm(total=lbfgs_steps, desc="EquiNO (L-BFGS)", disable=not progress)
        # rounds of at most 200 iterations, each on fresh collocation strains
        for r in range(math.ceil(lbfgs_steps / 200)):
            its = min(200, lbfgs_steps - 200 * r)
            if hasattr(model, "sample"):
                Ec = model.sample(collocation, g, small_fraction)
            else:
                Ec = _shrink(torch.as_tensor(latin_hypercube(collocation, box, seed=seed + 1 + r),
                                             dtype=torch.float64), small_fraction, g).to(model.box.device)
            opt = torch.optim.LBFGS(model.nets.parameters(), lr=1.0, max_iter=its, max_eval=its, history_size=50,
                                    tolerance_grad=1e-12, tolerance_change=1e-16, line_search_fn="strong_wolfe")

            def closure():
                opt.zero_grad()
                loss = model.constitutive_loss(Ec, reduce=reduce).mean()
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"EquiNO loss became {loss.item()} in L-BFGS")
                loss.backward()
                hist.append(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.2e}")
                return loss

            opt.step(closure)
        bar.close()
    return hist


def fit_stress_mlp(model: StressMLP, strains, stresses, tangents=None, steps: int = 3000, lbfgs_steps: int = 0,
                   lr: float = 3e-3, tangent_weight: float = 1.0, seed: int = 0, progress: bool = True) -> list:
    """Full-batch data fit of σ̄ (and, given ``tangents``, of C̄: Sobolev training) on
    snapshot pairs: Adam with a cosine schedule, then ``lbfgs_steps`` of L-BFGS.

    The loss is EquiNO's ``reduce="sample"`` analogue: per-snapshot relative errors
    ``|σ̄ − σ̄*|² / |σ̄*|²`` (plus ``tangent_weight`` times the same for C̄),
    averaged, so small strains are fitted to the same relative accuracy as large ones.
    """
    torch.manual_seed(seed)
    E = torch.as_tensor(strains, dtype=torch.float64)
    S = torch.as_tensor(stresses, dtype=torch.float64)
    C = None if tangents is None else torch.as_tensor(tangents, dtype=torch.float64)
    if S.shape != E.shape:
        raise ValueError(f"stresses: expected shape {tuple(E.shape)} like strains, got {tuple(S.shape)}")
    if C is not None and C.shape != (len(E), 3, 3):
        raise ValueError(f"tangents: expected shape ({len(E)}, 3, 3), got {tuple(C.shape)}")
    model.scale.copy_(S.abs().amax(0))
    floor = 1e-6 * S.pow(2).sum(1).max()          # a snapshot at zero strain must not divide by zero
    s2 = S.pow(2).sum(1).clamp_min(floor)
    c2 = None if C is None else C.pow(2).sum((1, 2))

    def loss_fn():
        if C is None:
            return ((model.homogenised_stress(E) - S).pow(2).sum(1) / s2).mean()
        s, Ct = model.stress_and_tangent(E)
        return ((s - S).pow(2).sum(1) / s2 + tangent_weight * (Ct - C).pow(2).sum((1, 2)) / c2).mean()

    return fit_full_batch(model.net, loss_fn, steps, lbfgs_steps, lr, "σ̄ MLP", progress)


def select_stress_mlp(strains, stresses, tangents=None, grid=({"width": 64, "depth": 3},), folds: int = 5,
                      box: float = 0.04, seed: int = 0, progress: bool = True, **fit_kw):
    """K-fold cross-validation of StressMLP settings on the training snapshots.

    Returns ``(best, table)``: the setting with the lowest mean held-out relative σ̄
    error, and one row per setting (``cv_sigma_bar``, ``cv_tangent``). The test
    snapshots are never seen."""
    import numpy as np
    E, S = np.asarray(strains), np.asarray(stresses)
    C = None if tangents is None else np.asarray(tangents)
    if len(E) < folds:
        raise ValueError(f"folds: expected at most {len(E)} (the number of snapshots), got {folds}")
    parts = np.array_split(np.random.default_rng(seed).permutation(len(E)), folds)
    table = []
    for hp in grid:
        errs, terrs = [], []
        for k in range(folds):
            val = parts[k]
            tr = np.concatenate([parts[j] for j in range(folds) if j != k])
            m = StressMLP(box=box, **hp)
            fit_stress_mlp(m, E[tr], S[tr], None if C is None else C[tr], seed=seed + k, progress=False, **fit_kw)
            with torch.enable_grad():
                s, Ct = m.stress_and_tangent(torch.as_tensor(E[val]), strict=False)
            s, Ct = s.detach().numpy(), Ct.detach().numpy()
            errs.append(np.mean(np.linalg.norm(s - S[val], axis=1) / np.linalg.norm(S[val], axis=1)))
            if C is not None:
                terrs.append(np.mean(np.linalg.norm(Ct - C[val], axis=(1, 2)) / np.linalg.norm(C[val], axis=(1, 2))))
        table.append({"hyperparameters": dict(hp), "cv_sigma_bar": float(np.mean(errs)),
                      "cv_tangent": float(np.mean(terrs)) if terrs else None})
        if progress:
            print("σ̄ MLP cross-validation", table[-1], flush=True)
    best = min(table, key=lambda r: r["cv_sigma_bar"])["hyperparameters"]
    return best, table
