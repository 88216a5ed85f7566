"""Training a one-step map on a trajectory for long rollouts: noise and the pushforward trick.

A map trained only on exact states sees, once rolled out, states with its own
errors in them, and drifts. Two standard remedies, both here:

* **noise injection** (Sanchez-Gonzalez et al. 2020): the input state gets
  Gaussian noise on its free DOFs, and the target stays the true next state, so
  the map learns to pull perturbed states back;
* **pushforward** (Brandstetter et al. 2022): the input is the map's own
  prediction after ``m - 1`` steps (no gradient through them) from a true state,
  so training sees the distribution of states the rollout will see.

The map is an increment map, as :func:`spon.models.rollout` with
``increment=True`` steps it: ``u_(j+1) = u_j + S(u_j)`` with zero Dirichlet data,
so boundary values of the trajectory (inflow, no slip) are kept exactly. The loss
is the squared FE error of the predicted state relative to the true increment,
so it weighs the change, not the flow.

:func:`fit_leapfrog_map` trains a second-order map instead, as
:func:`spon.models.leapfrog_rollout` steps it: the model predicts the second
difference ``u_(j+1) - 2 u_j + u_(j-1)`` from ``u_j`` (relative to a centre state).
"""
from __future__ import annotations

import math
import time

import torch
from tqdm import trange

from ..fem.checks import check_finite
from ..fem.norms import FENorm
from ..models.rollout import as_state, state_dim

__all__ = ["fit_increment_map", "fit_leapfrog_map"]


def fit_increment_map(model, states: torch.Tensor, k: int = 1, *, epochs: int = 50, batch_size: int = 8,
                      lr: float = 3e-3, weight_decay: float = 1e-4, unroll: int = 1, noise: float = 0.0,
                      seed: int = 0, progress: bool = True, desc: str = "increment map") -> dict:
    """Fit ``model`` so that ``states[i] + model(states[i]) ≈ states[i + k]``.

    Parameters
    ----------
    model : SPON whose input and output space are the same, with a Dirichlet (or
        mixed) decoder of zero data
    states : ``(n, dim)`` consecutive states of one trajectory
    k : the map advances ``k`` states
    unroll : the most steps ``m`` of a pushforward; each batch draws ``m`` in
        ``1 … unroll`` once the first quarter of the epochs (single steps) is over
    noise : standard deviation of the input noise on free DOFs, relative to the RMS
        of the true increments' free values
    epochs, batch_size, lr, weight_decay : AdamW with a one-cycle schedule

    Returns
    -------
    dict
        The history: lists ``epoch``, ``train_loss`` and ``seconds``.

    Examples
    --------
    >>> import torch
    >>> from spon.models import build_spon
    >>> from spon.mesh import MeshSpec
    >>> m = build_spon({"mesh": MeshSpec("unit_square", 0.5, 1).to_dict(),
    ...                 "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
    ...                 "encoder": "coefficients", "decoder": {"kind": "dirichlet", "value": 0.0},
    ...                 "processor": {"kind": "graph", "width": 4, "layers": 1}})
    >>> t = torch.linspace(0, 1, 12, dtype=torch.float64)[:, None]
    >>> states = torch.sin(6 * t) * torch.rand(1, m.decoder.V.dim(), dtype=torch.float64)
    >>> h = fit_increment_map(m, states, 2, epochs=4, batch_size=4, unroll=2, noise=0.1, progress=False)
    >>> len(h["train_loss"])
    4
    """
    states, free = _checked(model, states, k, unroll, noise)
    if len(states) - unroll * k < 1:
        raise ValueError(f"states: expected more than unroll·k = {unroll * k} states, got {len(states)}")
    dtype = model.input_scale.dtype
    u_all = states.to(dtype)
    inc = u_all[k:] - u_all[:-k]
    model.fit_scales(u_all[:-k], inc)
    scale = noise * inc[:, free].pow(2).mean().sqrt().item()
    norm = FENorm(model.decoder.V).to(dtype)

    def batch_loss(epoch, gen):
        m = 1 if unroll == 1 or epoch < epochs // 4 else int(torch.randint(1, unroll + 1, (1,), generator=gen))
        idx = torch.randint(0, len(states) - m * k, (batch_size,), generator=gen)
        u = u_all[idx].clone()
        if scale > 0:
            u[:, free] += scale * torch.randn(batch_size, int(free.sum()), generator=gen, dtype=dtype)
        with torch.no_grad():
            for _ in range(m - 1):
                u = u + model(u).reshape(batch_size, -1)
        pred = u + model(u).reshape(batch_size, -1)
        true, prev = u_all[idx + m * k], u_all[idx + (m - 1) * k]
        return (norm.squared(pred - true) / norm.squared(true - prev).clamp_min(torch.finfo(dtype).tiny)).mean()

    return _fit(model, batch_loss, max(1, math.ceil((len(states) - k) / batch_size)), epochs, lr, weight_decay,
                seed, progress, desc)


def fit_leapfrog_map(model, states: torch.Tensor, k: int = 1, *, center: torch.Tensor | None = None,
                     epochs: int = 50, batch_size: int = 8, lr: float = 3e-3, weight_decay: float = 1e-4,
                     unroll: int = 1, noise: float = 0.0, seed: int = 0, progress: bool = True,
                     desc: str = "leapfrog map") -> dict:
    """Fit ``model`` so that ``model(u_i - center) ≈ u_(i+k) - 2 u_i + u_(i-k)`` (``u_i = states[i]``).

    Parameters
    ----------
    model : SPON whose input and output space are the same, with a Dirichlet (or
        mixed) decoder of zero data
    states : ``(n, dim)`` consecutive states of one trajectory
    k : the map advances ``k`` states
    center : the state inputs are taken relative to (default: the mean of ``states``)
        A processor's pointwise linear skip (``linear_skip``), behind a decoder that keeps
        the values it is given, starts at the least-squares fit of the second differences
        node by node: for one frequency, ``a = -(2 - 2 cos θ)(u - center)`` exactly. The
        nonlinear part starts at zero and learns the rest.
    unroll : the most leapfrog steps ``m`` the loss follows, with gradients through all of
        them, from a true pair ``(u_(i-k), u_i)``; each batch draws ``m`` in ``1 … unroll``
        once the first quarter of the epochs (single steps) is over. The loss is the mean
        over the ``m`` steps of the squared FE error of the state relative to the true
        second difference's.
    noise : standard deviation of a perturbation of the starting pair's free DOFs (the
        same for both states), relative to the RMS of the true second differences; the
        targets stay the true states, so the map learns to pull a perturbed state back
    epochs, batch_size, lr, weight_decay : AdamW with a one-cycle schedule

    Returns
    -------
    dict
        The history: lists ``epoch``, ``train_loss`` and ``seconds``, and ``center``.

    Examples
    --------
    >>> import torch
    >>> from spon.models import build_spon
    >>> from spon.mesh import MeshSpec
    >>> m = build_spon({"mesh": MeshSpec("unit_square", 0.5, 1).to_dict(),
    ...                 "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
    ...                 "encoder": "coefficients", "decoder": {"kind": "dirichlet", "value": 0.0},
    ...                 "processor": {"kind": "graph", "width": 4, "layers": 1, "linear_skip": True}})
    >>> t = torch.linspace(0, 2, 16, dtype=torch.float64)[:, None]
    >>> states = torch.sin(6 * t) * torch.rand(1, m.decoder.V.dim(), dtype=torch.float64)
    >>> h = fit_leapfrog_map(m, states, 1, epochs=4, batch_size=4, unroll=2, noise=0.1, progress=False)
    >>> len(h["train_loss"]), h["center"].shape == states[0].shape
    (4, True)
    """
    states, free = _checked(model, states, k, unroll, noise)
    if len(states) < (unroll + 1) * k + 1:
        raise ValueError(f"states: expected at least (unroll + 1)·k + 1 = {(unroll + 1) * k + 1} states, "
                         f"got {len(states)}")
    dim, dtype = states.shape[1], model.input_scale.dtype
    u_all = states.to(dtype)
    if center is None:
        center = u_all.mean(0)
    center = as_state(center, "center", dim, dtype)
    acc = u_all[2 * k:] - 2 * u_all[k:-k] + u_all[:-2 * k]          # acc[i] belongs to state i + k
    model.fit_scales(u_all[k:-k] - center, acc)
    _start_linear_skip(model, u_all[k:-k] - center, acc)
    scale = noise * acc[:, free].pow(2).mean().sqrt().item()
    norm = FENorm(model.decoder.V).to(dtype)
    acc_sq = norm.squared(acc).clamp_min(torch.finfo(dtype).tiny)

    def batch_loss(epoch, gen):
        m = 1 if unroll == 1 or epoch < epochs // 4 else int(torch.randint(1, unroll + 1, (1,), generator=gen))
        i = k + torch.randint(0, len(states) - (m + 1) * k, (batch_size,), generator=gen)   # u_i, i >= k
        prev, u = u_all[i - k], u_all[i]
        if scale > 0:
            d = torch.zeros(batch_size, dim, dtype=dtype)
            d[:, free] = scale * torch.randn(batch_size, int(free.sum()), generator=gen, dtype=dtype)
            prev, u = prev + d, u + d
        loss = 0.0
        for j in range(1, m + 1):
            prev, u = u, 2 * u - prev + model(u - center).reshape(batch_size, -1)
            loss = loss + (norm.squared(u - u_all[i + j * k]) / acc_sq[i + (j - 2) * k]).mean()
        return loss / m

    hist = _fit(model, batch_loss, max(1, math.ceil(len(acc) / batch_size)), epochs, lr, weight_decay, seed,
                progress, desc)
    return hist | {"center": center}


def _checked(model, states, k, unroll, noise):
    """``states`` as a checked ``(n, dim)`` tensor on the model's output space, and the mask of free DOFs."""
    dim = state_dim(model)
    states = torch.as_tensor(states)
    if states.dim() != 2 or states.shape[1] != dim:
        raise ValueError(f"states: expected shape (n, {dim}) (the model's output space), got {tuple(states.shape)}")
    check_finite(states, "states")
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k: expected an integer >= 1, got {k!r}")
    if not (isinstance(unroll, int) and unroll >= 1):
        raise ValueError(f"unroll: expected an integer >= 1, got {unroll!r}")
    if noise < 0:
        raise ValueError(f"noise: expected a standard deviation >= 0, got {noise}")
    free = torch.ones(dim, dtype=torch.bool)
    free[model.decoder.boundary_dofs] = False
    return states, free


def _fit(model, batch_loss, steps, epochs, lr, weight_decay, seed, progress, desc) -> dict:
    """AdamW with a one-cycle schedule over ``epochs`` of ``steps`` batches of ``batch_loss(epoch, gen)``."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * steps)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    hist = {"epoch": [], "train_loss": [], "seconds": []}
    t0 = time.perf_counter()
    bar = trange(epochs, desc=desc, disable=not progress)
    for epoch in bar:
        model.train()
        total = 0.0
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = batch_loss(epoch, gen)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training: loss became {loss.item()} at epoch {epoch}; "
                                         "lower the learning rate or the noise")
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        hist["epoch"].append(epoch + 1)
        hist["train_loss"].append(total / steps)
        hist["seconds"].append(time.perf_counter() - t0)
        bar.set_postfix(loss=f"{total / steps:.2e}")
    model.eval()
    return hist


@torch.no_grad()
def _start_linear_skip(model, x, y):
    """Set a processor's pointwise linear skip ``W`` to the least-squares ``y ≈ W x`` over all nodes."""
    lin = getattr(model.processor, "skip_linear", None)
    if lin is None or getattr(model.decoder, "interior", "values") != "values":
        return
    z = (model.encoder(x) / model.input_scale).reshape(-1, lin.in_features)
    t = (y / model.output_scale).reshape(-1, lin.out_features)
    lin.weight.copy_(torch.linalg.lstsq(z, t.to(z.dtype)).solution.T)
