"""Models that train where Firedrake is not installed (a GPU node with only PyTorch).

Once built, a SPON model is torch through and through: every FE matrix is a
buffer. :func:`save_portable` pickles whole modules (a model, an
:class:`~spon.fem.FELoss`) without the Firedrake objects they were built from;
:func:`load_portable` reads them back, and where Firedrake cannot be imported it
first stands empty modules in for the FE stack so that spon's own modules import.
What needs Firedrake (``as_functions=True``, physics losses, checkpoints by spec)
is then unavailable; training and inference on tensors are not.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import pickle
import sys
import types

import torch

__all__ = ["save_portable", "load_portable", "stub_fe_stack", "FE_STACK"]

FE_STACK = ("firedrake", "ufl", "finat", "FIAT", "pyop2", "petsc4py", "tsfc", "pyadjoint", "firedrake_citations",
            "gmsh", "meshio", "loopy", "mpi4py", "h5py")


def _unpicklable(module: torch.nn.Module):
    internal = set(vars(torch.nn.Module()))
    for m in module.modules():
        for k, v in vars(m).items():
            if k in internal or isinstance(v, (int, float, str, bool, type(None), torch.Tensor)):
                continue
            try:
                pickle.dumps(v)
            except Exception:   # noqa: BLE001 - whatever does not pickle stays behind
                yield m, k, v


def save_portable(path, **modules) -> None:
    """``torch.save`` a dict of modules and tensors, leaving out the attributes that do
    not pickle (Firedrake spaces, meshes, BCs); the modules are left as they were."""
    removed = [(m, k, v) for obj in modules.values() if isinstance(obj, torch.nn.Module)
               for m, k, v in list(_unpicklable(obj))]
    try:
        for m, k, _ in removed:
            setattr(m, k, None)
        torch.save(modules, path)
    finally:
        for m, k, v in removed:
            setattr(m, k, v)


class _Stubs(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Empty modules for the FE stack: each name in them is a fresh class, so spon's
    modules import, and ``isinstance(x, firedrake.Function)`` is simply false."""

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in FE_STACK:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        mod = types.ModuleType(spec.name)
        mod.__path__ = []
        mod.__getattr__ = lambda attr: None if attr.startswith("__") else type(attr, (), {})
        return mod

    def exec_module(self, module):
        pass


def stub_fe_stack() -> None:
    """Stand empty modules in for the FE stack (idempotent)."""
    if not any(isinstance(f, _Stubs) for f in sys.meta_path):
        sys.meta_path.insert(0, _Stubs())


def load_portable(path, map_location="cpu") -> dict:
    """What :func:`save_portable` wrote; without Firedrake, after :func:`stub_fe_stack`."""
    try:
        import firedrake  # noqa: F401
    except ImportError:
        stub_fe_stack()
    return torch.load(path, map_location=map_location, weights_only=False)
