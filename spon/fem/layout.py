"""Layout of a Firedrake function space as a batched torch tensor.

A batch of Functions on ``V`` is a tensor of shape ``(batch, nodes, *value_shape)``
for scalar, vector and tensor spaces and ``(batch, V.dim())`` for mixed spaces.
Flattening the trailing dimensions gives PETSc's vector order, which is the
order in which every assembled matrix acts (:meth:`SpaceLayout.flat`).
"""
from __future__ import annotations

import numpy as np
import torch

from .checks import check_serial, check_tensor

__all__ = ["SpaceLayout", "dof_coordinates", "match_points"]


def dof_coordinates(V) -> np.ndarray:
    """Coordinates ``(nodes, gdim)`` of the nodes of a scalar or vector space ``V``, in DOF order.

    The node set is that of ``V``'s scalar element, variant included.

    Examples
    --------
    >>> from firedrake import FunctionSpace, UnitSquareMesh
    >>> X = dof_coordinates(FunctionSpace(UnitSquareMesh(1, 1), "CG", 2))
    >>> X.shape, sorted(set(X[:, 0].round(6).tolist()))
    ((9, 2), [0.0, 0.5, 1.0])
    """
    import firedrake as fd

    if len(V) > 1:
        raise ValueError(f"V: expected a scalar or vector space, got a mixed space with {len(V)} parts")
    elem = V.ufl_element()
    if V.value_shape != ():
        elem = elem.sub_elements[0]
    mesh = V.mesh()
    W = fd.VectorFunctionSpace(mesh, elem)
    return fd.Function(W).interpolate(fd.SpatialCoordinate(mesh)).dat.data_ro.copy()


def match_points(reference: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each row of ``points``, the index of the same point among the rows of ``reference``, or -1.

    Coordinates are compared rounded relative to the size of ``reference`` (a domain's nodes built twice
    agree to round-off, not bit for bit), never by their order.

    >>> match_points(np.array([[0.0, 0.0], [1.0, 0.5]]), np.array([[1.0, 0.5 + 1e-13], [2.0, 2.0]])).tolist()
    [1, -1]
    """
    reference, points = np.asarray(reference), np.asarray(points)
    scale = max(float(np.ptp(reference, axis=0).max()) if len(reference) else 1.0, 1e-300)
    where = {tuple(r): i for i, r in enumerate(np.round(reference / scale, 9))}
    return np.array([where.get(tuple(r), -1) for r in np.round(points / scale, 9)], dtype=np.int64)


class SpaceLayout:
    """Shapes and offsets of a (possibly mixed) function space ``V``.

    Examples
    --------
    >>> from firedrake import UnitSquareMesh, VectorFunctionSpace
    >>> V = VectorFunctionSpace(UnitSquareMesh(2, 2), "CG", 1)
    >>> SpaceLayout(V).shape
    (9, 2)
    """

    def __init__(self, V):
        check_serial(V, "V")
        self.V = V
        self.mixed = len(V) > 1
        self.sub_sizes = [int(Vi.dim()) for Vi in V]
        self.dim = int(sum(self.sub_sizes))
        self.offsets = np.concatenate([[0], np.cumsum(self.sub_sizes)]).astype(int)
        if self.mixed:
            self.shape = (self.dim,)
        else:
            vs = tuple(V.value_shape)
            self.shape = (self.dim // int(np.prod(vs, dtype=int)),) + vs

    def check(self, x: torch.Tensor, name: str, **kw) -> torch.Tensor:
        """Accept ``(batch, *shape)`` or flat ``(batch, dim)``."""
        if isinstance(x, torch.Tensor) and x.dim() == 2 and x.shape[1] == self.dim:
            return check_tensor(x, name, shape=(self.dim,), **kw)
        return check_tensor(x, name, shape=self.shape, **kw)

    def flat(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.dim)

    def natural(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape((x.shape[0],) + self.shape)

    def split(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Split flat ``(batch, dim)`` into per-subspace flat blocks."""
        return [x[:, a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def __getstate__(self):
        # the shapes are what a layout checks: it pickles without its Firedrake space
        return {**self.__dict__, "V": None}

    def __repr__(self):
        return f"SpaceLayout(shape={self.shape}, dim={self.dim}, mixed={self.mixed})"
