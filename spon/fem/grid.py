"""Maps between FE spaces and a regular grid over the domain's bounding box.

Grid-based operators (FNO and its kin) see FE data the way practitioners feed
them: sampled at the points of an ``n × n`` grid over the bounding box, with a
mask channel that is 1 inside the domain and 0 outside, and their predictions
brought back to the FE nodes by bilinear interpolation. Both maps are sparse
matrices built once:

* ``to_grid``: point evaluation of a Function of ``U`` at the grid points
  inside the mesh (Firedrake's interpolation onto a ``VertexOnlyMesh``), and 0
  at the points outside;
* ``from_grid``: bilinear (3D: trilinear) interpolation of grid values at the
  nodes of ``V``.

Grid values are stored row-major with ``y`` along the rows: value ``[j, i]``
belongs to the point ``(x_i, y_j)``, as ``numpy.meshgrid(..., indexing="xy")``
lays them out; in 3D value ``[k, j, i]`` belongs to ``(x_i, y_j, z_k)``.

A ``VertexOnlyMesh`` keeps the points it finds in an order of its own, so the
rows of its interpolation matrix are put back into grid order by matching each
found point to its grid index; a linear function survives FE → grid → FE
exactly (``tests/test_grid.py``).
"""
from __future__ import annotations

import numpy as np
import torch

from .assembly import interpolation_matrix
from .layout import dof_coordinates
from .sparse import spmv

__all__ = ["GridTransfer"]


class GridTransfer:
    """FE ↔ ``n × n`` (3D: ``n × n × n``) grid maps for the input space ``U`` and the output space ``V``.

    Parameters
    ----------
    U : firedrake.FunctionSpace
        Scalar space whose Functions are sampled on the grid.
    V : firedrake.FunctionSpace, optional
        Scalar space whose nodes receive bilinear interpolants of grid values (default ``U``).
    n : int
        Grid points per side (at least 2).
    bbox : ``((x0, y0), (x1, y1))`` (3D: three coordinates each), optional
        The box the grid covers (default: the mesh's bounding box).

    Attributes
    ----------
    to_grid : torch sparse ``(n**d, U.dim())``
    from_grid : torch sparse ``(V.dim(), n**d)`` (bilinear; trilinear in 3D)
    mask : torch bool ``(n,) * d``, True at the grid points inside the mesh
    x, y (and z in 3D) : numpy ``(n,)`` grid coordinates

    Examples
    --------
    >>> import firedrake as fd, torch
    >>> U = fd.FunctionSpace(fd.UnitSquareMesh(4, 4), "CG", 1)
    >>> g = GridTransfer(U, n=9)
    >>> x = fd.SpatialCoordinate(U.mesh())[0]
    >>> u = torch.as_tensor(fd.Function(U).interpolate(x).dat.data_ro.copy())[None]
    >>> grid = g.to_grid_values(u)
    >>> grid.shape, float(grid[0, 4, 8])            # row j = 4 (y = 0.5), column i = 8 (x = 1)
    (torch.Size([1, 9, 9]), 1.0)
    >>> float((g.from_grid_values(grid) - u).abs().max()) < 1e-12
    True
    """

    def __init__(self, U, V=None, n: int = 64, bbox=None):
        import itertools

        import firedrake as fd

        V = U if V is None else V
        dim = U.mesh().geometric_dimension
        for name, W in (("U", U), ("V", V)):
            if W.value_shape != () or len(W) > 1:
                raise ValueError(f"{name}: expected a scalar function space, got value shape {W.value_shape}")
            if W.mesh().geometric_dimension not in (2, 3) or W.mesh().geometric_dimension != dim:
                raise ValueError(f"{name}: expected a space on a 2D or 3D mesh (both of one dimension), got "
                                 f"dimension {W.mesh().geometric_dimension}")
        if not (isinstance(n, int) and n >= 2):
            raise ValueError(f"n: expected an integer >= 2 grid points per side, got {n!r}")
        mesh = U.mesh()
        if bbox is None:
            X = mesh.coordinates.dat.data_ro
            bbox = (X.min(axis=0), X.max(axis=0))
        lo, hi = (np.asarray(c, dtype=float).reshape(-1) for c in bbox)
        if lo.shape != (dim,) or hi.shape != (dim,) or not np.all(hi > lo):
            raise ValueError(f"bbox: expected (lower corner, upper corner) of {dim} coordinates each, upper > lower, "
                             f"got {bbox}")
        self.n, self.dim, self.U, self.V, self._copies = n, dim, U, V, {}
        self.axes = [np.linspace(lo[d], hi[d], n) for d in range(dim)]
        self.x, self.y = self.axes[0], self.axes[1]
        if dim == 3:
            self.z = self.axes[2]
        h = (hi - lo) / (n - 1)
        # grid point with axis indices (i, j[, k]) has the flat index i + j n (+ k n²): x varies fastest
        mesh_axes = np.meshgrid(*self.axes[::-1], indexing="ij")[::-1]
        pts = np.stack([g.ravel() for g in mesh_axes], axis=1)
        # inside: in a cell up to round-off (the default search tolerance also accepts points
        # up to half a cell outside the domain)
        cells, _, dist = mesh.locate_cells_ref_coords_and_dists(pts)
        inside = (np.asarray(cells) >= 0) & (np.asarray(dist) <= 1e-9)
        if not inside.any():
            raise ValueError(f"bbox: no grid point lies inside the mesh of U (box {bbox})")
        vom = fd.VertexOnlyMesh(mesh, pts[inside])
        E = interpolation_matrix(U, fd.FunctionSpace(vom, "DG", 0)).coalesce()
        # the VOM's own point order -> grid index, by each point's position
        found = vom.coordinates.dat.data_ro.reshape(-1, dim)
        idx = np.rint((found - lo) / h).astype(np.int64)
        grid_index = torch.as_tensor(sum(idx[:, d] * n ** d for d in range(dim)))
        if sorted(grid_index.tolist()) != np.flatnonzero(inside).tolist():
            raise RuntimeError("GridTransfer: the VertexOnlyMesh's points do not match the grid points inside")
        r, c = E.indices()
        self.to_grid = torch.sparse_coo_tensor(torch.stack([grid_index[r], c]), E.values(),
                                               (n ** dim, U.dim()), check_invariants=False).coalesce()
        self.mask = torch.as_tensor(inside).reshape((n,) * dim)

        # multilinear interpolation from the 2^dim corners of each node's grid cell
        Xv = dof_coordinates(V)
        s = (Xv - lo) / h
        i = np.clip(np.floor(s).astype(np.int64), 0, n - 2)
        t = s - i
        rows, cols, vals = [], [], []
        for corner in itertools.product((0, 1), repeat=dim):
            w = np.prod([t[:, d] if c else 1 - t[:, d] for d, c in enumerate(corner)], axis=0)
            rows.append(np.arange(len(Xv)))
            cols.append(sum((i[:, d] + c) * n ** d for d, c in enumerate(corner)))
            vals.append(w)
        self.from_grid = torch.sparse_coo_tensor(np.stack([np.concatenate(rows), np.concatenate(cols)]),
                                                 np.concatenate(vals), (len(Xv), n ** dim),
                                                 check_invariants=False).coalesce()

    def _as(self, name, like):
        key = (name, like.dtype, like.device)
        if key not in self._copies:   # one copy per dtype and device, not one per call
            self._copies[key] = getattr(self, name).to(device=like.device, dtype=like.dtype)
        return self._copies[key]

    def to_grid_values(self, u: torch.Tensor) -> torch.Tensor:
        """``(B, U.dim())`` DOF values -> ``(B, n, n)`` grid values (``(B, n, n, n)``, z first, in
        3D; 0 outside the domain)."""
        return spmv(self._as("to_grid", u), u).reshape(-1, *(self.n,) * self.dim)

    def from_grid_values(self, g: torch.Tensor) -> torch.Tensor:
        """``(B, n, n)`` (or ``(B, n, n, n)``) grid values -> ``(B, V.dim())`` values at the nodes of ``V``."""
        return spmv(self._as("from_grid", g), g.reshape(len(g), -1))
