"""Batches of FE fields written as Firedrake Functions in a ``CheckpointFile``.

Sample ``i`` of a batch is stored as the Function ``name`` at ``idx=i``, with
its mesh, so any Firedrake program reads it back on the right space, whatever
the DOF numbering of the process that reads it.
"""
from __future__ import annotations

from pathlib import Path

import firedrake as fd
import torch

from ..atomic import atomic_path
from .checks import check_finite, mesh_of
from .convert import to_functions
from .layout import SpaceLayout

__all__ = ["save_functions", "load_functions"]


def save_functions(path, values: torch.Tensor, V, name: str = "u") -> Path:
    """Write ``values`` (``(batch, *SpaceLayout(V).shape)``, any floating dtype and
    device; stored as float64) to a new CheckpointFile at ``path``, atomically: a
    crash leaves no half-written file.

    Examples
    --------
    >>> import firedrake as fd, torch, tempfile, pathlib
    >>> V = fd.FunctionSpace(fd.UnitSquareMesh(2, 2, name="m"), "CG", 1)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pred.h5"
    >>> _ = save_functions(path, torch.arange(2 * V.dim(), dtype=torch.float64).reshape(2, -1), V)
    >>> [float(f.dat.data_ro.sum()) for f in load_functions(path)]
    [36.0, 117.0]
    """
    path = Path(path)
    if path.suffix != ".h5":
        raise ValueError(f"path: expected a .h5 file for the CheckpointFile, got {path}")
    layout = SpaceLayout(V)
    values = layout.check(values, "values")
    if not values.is_floating_point():
        raise TypeError(f"values: expected a floating-point tensor, got {values.dtype}")
    values = values.detach().to("cpu", torch.float64)           # Functions hold float64
    check_finite(values, "values")
    mesh = mesh_of(V)
    with atomic_path(path, ".h5.tmp") as tmp:
        with fd.CheckpointFile(str(tmp), "w", comm=mesh.comm) as f:
            f.save_mesh(mesh)
            for i, fn in enumerate(to_functions(values, V)):
                fn.rename(name)
                f.save_function(fn, idx=i)
            f.set_attr("/", f"spon_{name}_mesh", mesh.name)
            f.set_attr("/", f"spon_{name}_count", len(values))
    return path


def load_functions(path, name: str = "u", V=None) -> list:
    """The Functions ``name`` written by :func:`save_functions` at ``path``, on the mesh
    stored with them, or, given ``V`` (a space of the same element on a mesh of the
    same domain, for example a model's), interpolated into ``V``: on a mesh with
    the same cells this reproduces the values of DG0 and other cell-interior DOFs
    exactly."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a CheckpointFile written by save_functions, but {path} "
                                "does not exist")
    with fd.CheckpointFile(str(path), "r") as f:
        if not f.has_attr("/", f"spon_{name}_count"):
            raise ValueError(f"path: {path} holds no batch {name!r} written by save_functions")
        mesh_name, count = f.get_attr("/", f"spon_{name}_mesh"), int(f.get_attr("/", f"spon_{name}_count"))
        mesh = f.load_mesh(mesh_name)
        out = [f.load_function(mesh, name, idx=i) for i in range(count)]
    if V is None:
        return out
    if V.ufl_element() != out[0].function_space().ufl_element():
        raise ValueError(f"V: expected a space of the stored element {out[0].function_space().ufl_element()}, "
                         f"got {V.ufl_element()}")
    return [fd.Function(V, name=name).interpolate(g) for g in out]
