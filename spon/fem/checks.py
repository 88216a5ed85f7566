"""Argument validation with messages that name the argument and what was expected."""
from __future__ import annotations

import torch

__all__ = ["check_tensor", "check_finite", "check_space", "check_serial", "mesh_of"]


def mesh_of(V):
    """The mesh of ``V``; for a mixed space, the mesh of its first subspace."""
    return V[0].mesh() if len(V) > 1 else V.mesh()


def check_tensor(x, name: str, *, shape=None, dtype=None, device=None,
                 batched: bool = True) -> torch.Tensor:
    """Check that ``x`` is a tensor with the given trailing ``shape``.

    ``shape`` excludes the batch dimension when ``batched``; ``None`` entries
    match any size.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if shape is not None:
        shape = tuple(shape)
        got = tuple(x.shape[1:]) if batched else tuple(x.shape)
        ok = (x.dim() == len(shape) + int(batched)
              and all(s is None or s == g for s, g in zip(shape, got)))
        if not ok:
            want = ("(batch, " if batched else "(") + ", ".join(
                "*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name}: expected shape {want}, got {tuple(x.shape)}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype}, got {x.dtype}")
    if device is not None and x.device != torch.device(device):
        raise ValueError(f"{name}: expected a tensor on device {device}, got {x.device}")
    return x


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Raise if ``x`` holds NaN or Inf."""
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).sum().item()
        raise ValueError(f"{name}: expected finite values, found {bad} NaN/Inf entries")
    return x


def check_space(f, V, name: str):
    """Check that Function/Cofunction ``f`` lives in function space ``V``."""
    space = getattr(f, "function_space", None)
    if space is None:
        raise TypeError(f"{name}: expected a firedrake Function on {V}, got {type(f).__name__}")
    W = space()
    if W != V and W.dual() != V:
        hint = ""
        if W.ufl_element() == V.ufl_element() and mesh_of(W) is not mesh_of(V):
            hint = (" (the same element on another mesh object, for example one loaded from a file: "
                    "interpolate it into the space, or load it with load_functions(..., V=space))")
        raise ValueError(f"{name}: expected a Function on {_describe(V)}, got one on {_describe(W)}{hint}")
    return f


def check_serial(V, name: str = "V"):
    """spon's FE<->torch maps hold whole vectors; they need a one-rank communicator."""
    comm = mesh_of(V).comm
    if comm.size != 1:
        raise ValueError(f"{name}: expected a function space on a one-rank communicator "
                         f"(use firedrake.Ensemble with one rank per member), got {comm.size} ranks")


def _describe(V) -> str:
    try:
        elem = V.ufl_element()
        return f"{elem} on mesh {mesh_of(V).name!r}"
    except Exception:  # pragma: no cover - description only
        return repr(V)
