"""Held-out errors of surrogates against FE snapshots."""
from __future__ import annotations

import numpy as np
import torch

from .equino import EquiNO
from .surrogate import Surrogate

__all__ = ["field_errors", "sample_errors", "error_table"]


def _rel(pred, true, w):
    return np.sqrt(np.einsum("sq,q->s", (pred - true) ** 2, w) / np.einsum("sq,q->s", true**2, w))


def field_errors(model: Surrogate, snaps, quad) -> dict:
    """Held-out errors, each the mean over samples of a relative L² norm over the RVE.

    ``u_x``, ``u_y``: total micro displacement ``ε̄·x + ũ`` (EquiNO's definition);
    ``fluct_x``, ``fluct_y``: the fluctuation ``ũ`` alone (stricter);
    ``sigma_*``: micro stress fields; ``sigma_bar``, ``tangent``: homogenised response.
    """
    return {k: float(v.mean()) for k, v in sample_errors(model, snaps, quad).items()}


def error_table(model: Surrogate, snaps, quad) -> dict:
    """``{"median": …, "mean": …}`` over the samples of :func:`sample_errors` (EquiNO reports medians)."""
    e = sample_errors(model, snaps, quad)
    return {"median": {k: float(np.median(v)) for k, v in e.items()},
            "mean": {k: float(v.mean()) for k, v in e.items()}}


@torch.no_grad()
def sample_errors(model: Surrogate, snaps, quad) -> dict:
    """Per-sample relative errors ``{name: (S,) array}`` behind :func:`field_errors`."""
    w = quad.weights
    E = torch.as_tensor(snaps.strain)
    out = {}
    if isinstance(model, EquiNO):
        u, s = (x.numpy() for x in model.fields(E))
        X = quad.x
        lin = np.stack([snaps.strain[:, None, 0] * X[None, :, 0] + 0.5 * snaps.strain[:, None, 2] * X[None, :, 1],
                        0.5 * snaps.strain[:, None, 2] * X[None, :, 0] + snaps.strain[:, None, 1] * X[None, :, 1]], -1)
        for c, name in enumerate(("x", "y")):
            out[f"u_{name}"] = _rel(lin[..., c] + u[..., c], lin[..., c] + snaps.u_q[..., c], w)
            out[f"fluct_{name}"] = _rel(u[..., c], snaps.u_q[..., c], w)
        for c, name in enumerate(("sigma_xx", "sigma_yy", "sigma_xy")):
            out[name] = _rel(s[..., c], snaps.stress_q[..., c], w)
    with torch.enable_grad():
        sb, C = model.stress_and_tangent(E, strict=False)
    sb, C = sb.detach().numpy(), C.detach().numpy()
    out["sigma_bar"] = np.linalg.norm(sb - snaps.stress, axis=1) / np.linalg.norm(snaps.stress, axis=1)
    out["tangent"] = (np.linalg.norm(C - snaps.tangent, axis=(1, 2)) / np.linalg.norm(snaps.tangent, axis=(1, 2)))
    return out
