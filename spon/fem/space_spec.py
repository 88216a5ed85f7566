"""An FE space as a plain dict and back: what datasets, model specs and the CLI record.

A scalar space is ``{"family": "CG", "degree": 1}``; a vector or tensor space
adds ``"shape": [n]`` or ``[n, m]``; a mixed space is ``{"mixed": [part, ...]}``.

Examples
--------
>>> import firedrake as fd
>>> mesh = fd.UnitSquareMesh(2, 2)
>>> TH = fd.VectorFunctionSpace(mesh, "CG", 2) * fd.FunctionSpace(mesh, "CG", 1)
>>> space_spec(TH)
{'mixed': [{'family': 'Lagrange', 'degree': 2, 'shape': [2]}, {'family': 'Lagrange', 'degree': 1}]}
>>> space_from_spec(mesh, space_spec(TH)).ufl_element() == TH.ufl_element()
True
"""
from __future__ import annotations

import functools
import operator

__all__ = ["space_spec", "space_from_spec"]


def space_spec(V) -> dict:
    """The spec of the function space ``V``; given a spec dict instead, the same in canonical form
    (datasets written before 2026-12 named the shape ``value_shape``)."""
    if isinstance(V, dict):
        return _canonical(V, "space")
    if len(V) > 1:
        return {"mixed": [space_spec(Vi) for Vi in V]}
    e = V.ufl_element()
    blocked = V.value_shape != () and bool(e.sub_elements)   # [CG]^n, not RT/BDM (vector-valued by family)
    if blocked:
        e = e.sub_elements[0]
    out = {"family": e.family(), "degree": int(e.degree())}
    return {**out, "shape": [int(n) for n in V.value_shape]} if blocked else out


def _canonical(d, name):
    if "mixed" in d:
        parts = d["mixed"]
        if not isinstance(parts, (list, tuple)) or len(parts) < 2:
            raise ValueError(f"{name}['mixed']: expected a list of at least 2 space specs, got {parts!r}")
        return {"mixed": [_canonical(p, f"{name}.mixed") for p in parts]}
    try:
        shape = d.get("shape", d.get("value_shape", ()))
        out = {"family": str(d["family"]), "degree": int(d["degree"])}
        shape = [int(n) for n in shape]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{name}: expected {{'family': ..., 'degree': ..., 'shape': [...] (optional)}}, "
                         f"got {d!r}") from e
    if len(shape) > 2:
        raise ValueError(f"{name}['shape']: expected [], [n] or [n, m], got {shape}")
    return {**out, "shape": shape} if shape else out


def space_from_spec(mesh, spec: dict, name: str = "space"):
    """The function space on ``mesh`` of a spec from :func:`space_spec`; ``name`` goes into errors."""
    import firedrake as fd

    d = _canonical(spec, name)
    if "mixed" in d:
        return functools.reduce(operator.mul, [space_from_spec(mesh, p, f"{name}.mixed") for p in d["mixed"]])
    family, degree, shape = d["family"], d["degree"], tuple(d.get("shape", ()))
    if not shape:
        return fd.FunctionSpace(mesh, family, degree)
    if len(shape) == 1:
        return fd.VectorFunctionSpace(mesh, family, degree, dim=shape[0])
    return fd.TensorFunctionSpace(mesh, family, degree, shape=shape)
