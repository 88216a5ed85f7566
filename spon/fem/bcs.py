"""Which DOFs Dirichlet conditions fix, in PETSc (flat) order; a condition as a spec and back."""
from __future__ import annotations

import firedrake as fd
import numpy as np

__all__ = ["dirichlet_mask", "bc_spec", "bc_from_spec", "boundary_spec", "check_boundary"]


def dirichlet_mask(V, bcs, what: str = "the space") -> np.ndarray:
    """Boolean mask over the flat DOFs of ``V`` that the ``DirichletBC`` s in ``bcs`` fix
    (``bc.zero`` on a vector of ones); ``bcs`` may act on ``V``, a subspace or a component."""
    ones = fd.Function(V)
    with ones.dat.vec_wo as v:
        v.set(1.0)
    for i, bc in enumerate(bcs):
        if not isinstance(bc, fd.DirichletBC):
            raise TypeError(f"bcs[{i}]: expected a firedrake DirichletBC, got {type(bc).__name__}")
        if _parent(bc.function_space()) != V:
            raise ValueError(f"bcs[{i}]: expected a DirichletBC on {what} {V}, "
                             f"got one on {bc.function_space()}")
        try:
            bc.zero(ones)
        except LookupError as e:  # markers that are not on the mesh
            raise ValueError(f"bcs[{i}]: {e}") from None
    with ones.dat.vec_ro as v:
        return v.array_r == 0.0


def _parent(V):
    while getattr(V, "parent", None) is not None:
        V = V.parent
    return V


def boundary_spec(bc):
    """A ``DirichletBC``'s boundary as a spec records it: ``"on_boundary"`` or a list of markers."""
    sub = bc.sub_domain
    sub = list(sub) if isinstance(sub, (list, tuple)) else [sub]
    return "on_boundary" if sub == ["on_boundary"] else [int(b) for b in sub]


def check_boundary(boundary, V, name="spec['decoder']['boundary']"):
    """``boundary`` of a spec, checked against the mesh's exterior facet markers."""
    if boundary == "on_boundary":
        return boundary
    valid = {int(m) for m in V.mesh().exterior_facets.unique_markers}
    try:
        asked = [int(b) for b in (boundary if isinstance(boundary, (list, tuple)) else [boundary])]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected 'on_boundary' or facet markers, got {boundary!r}") from None
    if not set(asked) <= valid:
        raise ValueError(f"{name}: markers {sorted(set(asked) - valid)} are not on the "
                         f"mesh; expected 'on_boundary' or some of {sorted(valid)}")
    return asked


def _node_values(bc, V):
    f = fd.Function(V)
    bc.apply(f)
    nodes = np.unique(np.asarray(bc.nodes))        # a node on two marked facets is listed twice
    return nodes, f.dat.data_ro[nodes].copy()


def bc_spec(bc, V, store=None, name="bc") -> dict:
    """``{"boundary": ..., "value": ...}`` for constant data, else ``{"boundary": ..., "data": key}``
    with ``key = store(coordinates, values)`` of the boundary nodes (any data: expressions,
    Functions). Raises a ``ValueError`` naming ``name`` for a condition on a subspace or component."""
    if bc.function_space() != V:
        raise ValueError(f"{name}: only conditions on the whole space {V.ufl_element()} can be recorded, got one "
                         f"on {bc.function_space().ufl_element()} (a component or subspace)")
    boundary = boundary_spec(bc)
    nodes, vals = _node_values(bc, V)
    rows = vals.reshape(len(vals), -1)
    if len(rows) == 0 or np.all(rows == rows[0]):
        first = rows[0] if len(rows) else np.zeros(int(np.prod(V.value_shape, dtype=int)))
        # one number when every component agrees (a vector space repeats it)
        value = float(first[0]) if np.all(first == first[0]) else [float(v) for v in first]
        return {"boundary": boundary, "value": value}
    if store is None:
        raise ValueError(f"{name}: its data vary along the boundary; they can be recorded only beside a mesh file "
                         "(save the model with spon.models.save_checkpoint)")
    from .layout import dof_coordinates
    return {"boundary": boundary, "data": store(dof_coordinates(V)[nodes], vals)}


def _constant(value, V, name):
    shape = V.value_shape
    if isinstance(value, (list, tuple)):
        if len(shape) != 1 or len(value) != shape[0]:
            raise ValueError(f"{name}: expected a float or {shape[0] if shape else 1} values for the space of "
                             f"shape {shape}, got {value!r}")
        return fd.Constant(tuple(float(v) for v in value))
    try:
        return float(value) if shape == () else fd.Constant((float(value),) * int(shape[0]))
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None


def bc_from_spec(V, entry: dict, load=None, name="bc"):
    """The ``DirichletBC`` on ``V`` of a :func:`bc_spec` entry; ``load(key)`` returns the
    ``(coordinates, values)`` a ``store`` kept. Nodes are matched by coordinates, not by number."""
    if not isinstance(entry, dict):
        raise ValueError(f"{name}: expected {{'boundary': ..., 'value' or 'data': ...}}, got {entry!r}")
    boundary = check_boundary(entry.get("boundary", "on_boundary"), V, f"{name}['boundary']")
    if "data" not in entry:
        return fd.DirichletBC(V, _constant(entry.get("value", 0.0), V, f"{name}['value']"), boundary)
    if load is None:
        raise ValueError(f"{name}['data']: boundary data stored beside a mesh file need the mesh to come "
                         "from that file")
    coords, vals = load(entry["data"])
    g = fd.Function(V)
    bc = fd.DirichletBC(V, g, boundary)
    nodes = np.unique(np.asarray(bc.nodes))
    from .layout import dof_coordinates, match_points
    idx = match_points(coords, dof_coordinates(V)[nodes])
    if len(idx) != len(coords) or (idx < 0).any():
        raise ValueError(f"{name}['data']: the stored boundary nodes ({len(coords)}) are not those of this "
                         f"mesh's boundary {boundary!r} ({len(nodes)} nodes)")
    g.dat.data[nodes] = np.asarray(vals)[idx]
    return bc
