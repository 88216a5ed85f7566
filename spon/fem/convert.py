"""Batches of Firedrake Functions <-> torch tensors."""
from __future__ import annotations

from collections.abc import Sequence

import firedrake as fd
import numpy as np
import torch

from .checks import check_finite, check_space
from .layout import SpaceLayout

__all__ = ["to_tensor", "to_functions"]


def to_tensor(functions, V=None, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """Stack Functions on ``V`` into a tensor of shape ``(batch, *SpaceLayout(V).shape)``.

    Parameters
    ----------
    functions : Function or sequence of Function
        A single Function gives a batch of one.
    V : FunctionSpace, optional
        Expected space; defaults to the first Function's.
    dtype, device : torch dtype and device of the result (float64 on CPU by default).

    Examples
    --------
    >>> import firedrake as fd
    >>> V = fd.FunctionSpace(fd.UnitSquareMesh(2, 2), "CG", 1)
    >>> to_tensor([fd.Function(V), fd.Function(V)]).shape
    torch.Size([2, 9])
    """
    if isinstance(functions, (fd.Function, fd.Cofunction)):
        functions = [functions]
    if not isinstance(functions, Sequence) or len(functions) == 0:
        raise ValueError("functions: expected a Function or a non-empty sequence of Functions")
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
    if V is None:
        V = functions[0].function_space()
    layout = SpaceLayout(V)
    out = np.empty((len(functions), layout.dim))
    for i, f in enumerate(functions):
        check_space(f, V, f"functions[{i}]")
        with f.dat.vec_ro as v:
            out[i] = v.array_r
    return layout.natural(torch.as_tensor(out, dtype=dtype, device=device))


def to_functions(x: torch.Tensor, V, *, name: str = "x") -> list:
    """Turn a tensor ``(batch, *shape)`` (or flat ``(batch, dim)``) into Functions on ``V``."""
    layout = SpaceLayout(V)
    x = layout.check(x, name)
    check_finite(x, name)
    data = layout.flat(x).detach().to("cpu", torch.float64).numpy()
    out = []
    for row in data:
        f = fd.Function(V)
        with f.dat.vec_wo as v:
            v.array[:] = row
        out.append(f)
    return out
