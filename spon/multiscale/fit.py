"""Training loops of the surrogates: EquiNO on its constitutive loss, the σ̄-MLP on data."""
from __future__ import annotations

import math

import torch

from .equino import EquiNO
from .stress_mlp import StressMLP

__all__ = ["fit_equino", "fit_stress_mlp"]


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


def fit_equino(model: EquiNO, steps: int = 3000, batch: int = 64, lr: float = 3e-3, seed: int = 0,
               lbfgs_steps: int = 0, collocation: int = 512, reduce: str = "sample", small_fraction: float = 0.25,
               progress: bool = True, callback=None) -> list:
    """Physics-informed training: Adam at strains drawn uniformly in the box each
    step, then (``lbfgs_steps > 0``) full-batch L-BFGS on ``collocation``
    Latin-hypercube strains, which drives the loss orders of magnitude lower.

    ``reduce="sample"`` averages per-strain relative losses, so small strains are
    fitted to the same relative accuracy as large ones; ``small_fraction`` of every
    batch is pulled towards ``ε̄ = 0`` (FE² meets many small strains)."""
    from tqdm.auto import tqdm, trange
    g = torch.Generator(device="cpu").manual_seed(seed)
    opt = torch.optim.Adam(model.nets.parameters(), lr=lr)
    sched = _cosine(opt, steps)
    hist = []
    bar = trange(steps, desc="EquiNO (constitutive loss)", disable=not progress)
    for step in bar:
        E = (2 * torch.rand(batch, 3, generator=g, dtype=torch.float64) - 1) * model.box.cpu()
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
            Ec = _shrink(torch.as_tensor(latin_hypercube(collocation, box, seed=seed + 1 + r), dtype=torch.float64),
                         small_fraction, g).to(model.box.device)
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


def fit_stress_mlp(model: StressMLP, strains, stresses, steps: int = 3000, lr: float = 3e-3, seed: int = 0,
                   progress: bool = True) -> list:
    """Full-batch data fit of σ̄ on snapshot pairs."""
    from tqdm.auto import trange
    torch.manual_seed(seed)
    E = torch.as_tensor(strains, dtype=torch.float64)
    S = torch.as_tensor(stresses, dtype=torch.float64)
    model.scale.copy_(S.abs().amax(0))
    opt = torch.optim.Adam(model.net.parameters(), lr=lr)
    sched = _cosine(opt, steps)
    hist = []
    for _ in trange(steps, desc="σ̄ MLP (data)", disable=not progress):
        loss = (((model.homogenised_stress(E) - S) / model.scale) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append(loss.item())
    return hist
