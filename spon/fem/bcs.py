"""Which DOFs Dirichlet conditions fix, in PETSc (flat) order."""
from __future__ import annotations

import firedrake as fd
import numpy as np

__all__ = ["dirichlet_mask"]


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
