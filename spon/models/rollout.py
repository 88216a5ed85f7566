"""Time stepping with a learned one-step map: ``u_(j+1) = S(u_j)``.

Two forms of a step:

* ``increment=False``: the model predicts the next state, and each state's own
  boundary values go to its Dirichlet decoder as ``g`` (so inflow and no-slip
  data carry over exactly, step after step);
* ``increment=True``: the model predicts the change ``u_(j+1) - u_j`` with zero
  Dirichlet data, so the state keeps its boundary values exactly as well.

:func:`leapfrog_rollout` steps a second-order map instead: the model predicts the
second difference ``a(u_j) = u_(j+1) - 2 u_j + u_(j-1)`` from the state, and
``u_(j+1) = 2 u_j - u_(j-1) + a(u_j)`` (Störmer–Verlet). A force that depends on the
state alone keeps this scheme free of numerical damping, so an oscillation keeps
its amplitude; its frequency comes from ``a``.
"""
from __future__ import annotations

import torch

from ..fem.checks import check_finite

__all__ = ["rollout", "leapfrog_rollout", "state_dim", "as_state"]


def state_dim(model) -> int:
    """The DOFs of a state that ``model`` steps: its output space's, which must also be its input space's."""
    dim = model.decoder.V.dim()
    if model.encoder.U.dim() != dim:
        raise ValueError(f"model: expected its input space to be its output space ({dim} DOFs) to step in time, "
                         f"got an input of {model.encoder.U.dim()} DOFs")
    return dim


def as_state(v, name: str, dim: int, dtype) -> torch.Tensor:
    """``v`` as a flat finite state of ``dim`` values in ``dtype``; a ``ValueError`` naming ``name`` if not."""
    v = torch.as_tensor(v).reshape(-1)
    if v.numel() != dim:
        raise ValueError(f"{name}: expected {dim} values (the model's output space), got {v.numel()}")
    check_finite(v, name)
    return v.to(dtype)


@torch.no_grad()
def rollout(model, u0: torch.Tensor, steps: int, increment: bool = False) -> torch.Tensor:
    """The states ``u_1 … u_steps`` from ``u0`` (``(dim,)`` flat, on the model's output
    space, which is also its input space): a tensor ``(steps, dim)``.

    Raises a ``FloatingPointError`` naming the step when a state stops being finite.

    Examples
    --------
    >>> import torch
    >>> from spon.models import build_spon
    >>> from spon.mesh import MeshSpec
    >>> m = build_spon({"mesh": MeshSpec("unit_square", 0.5, 1).to_dict(),
    ...                 "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
    ...                 "encoder": "coefficients", "decoder": {"kind": "dirichlet", "value": 0.0},
    ...                 "processor": {"kind": "graph", "width": 4, "layers": 1, "linear_skip": True}})
    >>> u0 = torch.rand(m.decoder.V.dim(), dtype=torch.float64)
    >>> traj = rollout(m, u0, 3)
    >>> traj.shape[0], bool(torch.equal(traj[:, m.decoder.boundary_dofs], u0[m.decoder.boundary_dofs].expand(3, -1)))
    (3, True)
    """
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps: expected an integer >= 1, got {steps!r}")
    u = as_state(u0, "u0", state_dim(model), model.input_scale.dtype)
    out = []
    for j in range(steps):
        x = u[None]
        u = (u + model(x).reshape(-1)) if increment else model(x, g=x).reshape(-1)
        if not torch.isfinite(u).all():
            raise FloatingPointError(f"rollout: the state stopped being finite at step {j + 1}")
        out.append(u)
    return torch.stack(out)


@torch.no_grad()
def leapfrog_rollout(model, u_prev: torch.Tensor, u0: torch.Tensor, steps: int,
                     center: torch.Tensor | None = None) -> torch.Tensor:
    """The states ``u_1 … u_steps`` of ``u_(j+1) = 2 u_j - u_(j-1) + model(u_j - center)``
    from two consecutive states ``u_prev`` (``u_-1``) and ``u0``: a tensor ``(steps, dim)``.

    ``model`` predicts the second difference with zero Dirichlet data, so boundary values
    that ``u_prev`` and ``u0`` share are kept bit for bit (``2g - g = g`` in floating point).
    ``center``: the state the model's input is taken relative to (as in training; default 0).

    Examples
    --------
    >>> import torch
    >>> from spon.models import build_spon
    >>> from spon.mesh import MeshSpec
    >>> m = build_spon({"mesh": MeshSpec("unit_square", 0.5, 1).to_dict(),
    ...                 "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
    ...                 "encoder": "coefficients", "decoder": {"kind": "dirichlet", "value": 0.0},
    ...                 "processor": {"kind": "graph", "width": 4, "layers": 1}})
    >>> u0 = torch.rand(m.decoder.V.dim(), dtype=torch.float64)
    >>> traj = leapfrog_rollout(m, u0, u0, 3)
    >>> traj.shape[0], bool(torch.equal(traj[:, m.decoder.boundary_dofs], u0[m.decoder.boundary_dofs].expand(3, -1)))
    (3, True)
    """
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps: expected an integer >= 1, got {steps!r}")
    dim, dtype = state_dim(model), model.input_scale.dtype
    prev, u = as_state(u_prev, "u_prev", dim, dtype), as_state(u0, "u0", dim, dtype)
    c = as_state(center, "center", dim, dtype) if center is not None else torch.zeros_like(u)
    out = []
    for j in range(steps):
        prev, u = u, 2 * u - prev + model((u - c)[None]).reshape(-1)
        if not torch.isfinite(u).all():
            raise FloatingPointError(f"leapfrog_rollout: the state stopped being finite at step {j + 1}")
        out.append(u)
    return torch.stack(out)
