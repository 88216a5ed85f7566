"""Maps between FE spaces and a regular grid over the domain's bounding box.

Grid-based operators (FNO and its kin) see FE data the way practitioners feed
them: sampled at the points of an ``n × n`` grid over the bounding box, with a
mask channel that is 1 inside the domain and 0 outside, and their predictions
brought back to the FE nodes by bilinear interpolation. Both maps are sparse
matrices built once:

* ``to_grid``: point evaluation of a Function of ``U`` at the grid points
  inside the mesh (Firedrake's interpolation onto a ``VertexOnlyMesh``), and 0
  at the points outside;
* ``from_grid``: bilinear interpolation of grid values at the nodes of ``V``.

Grid values are stored row-major with ``y`` along the rows: value ``[j, i]``
belongs to the point ``(x_i, y_j)``, as ``numpy.meshgrid(..., indexing="xy")``
lays them out.

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
    """FE ↔ ``n × n`` grid maps for the input space ``U`` and the output space ``V``.

    Parameters
    ----------
    U : firedrake.FunctionSpace
        Scalar space whose Functions are sampled on the grid.
    V : firedrake.FunctionSpace, optional
        Scalar space whose nodes receive bilinear interpolants of grid values (default ``U``).
    n : int
        Grid points per side (at least 2).
    bbox : ``((x0, y0), (x1, y1))``, optional
        The box the grid covers (default: the mesh's bounding box).

    Attributes
    ----------
    to_grid : torch sparse ``(n*n, U.dim())``
    from_grid : torch sparse ``(V.dim(), n*n)``
    mask : torch bool ``(n, n)``, True at the grid points inside the mesh
    x, y : numpy ``(n,)`` grid coordinates

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
        import firedrake as fd

        V = U if V is None else V
        for name, W in (("U", U), ("V", V)):
            if W.value_shape != () or len(W) > 1:
                raise ValueError(f"{name}: expected a scalar function space, got value shape {W.value_shape}")
            if W.mesh().geometric_dimension != 2:
                raise ValueError(f"{name}: expected a space on a 2D mesh, got dimension "
                                 f"{W.mesh().geometric_dimension}")
        if not (isinstance(n, int) and n >= 2):
            raise ValueError(f"n: expected an integer >= 2 grid points per side, got {n!r}")
        mesh = U.mesh()
        if bbox is None:
            X = mesh.coordinates.dat.data_ro
            bbox = (X.min(axis=0), X.max(axis=0))
        (x0, y0), (x1, y1) = (np.asarray(c, dtype=float) for c in bbox)
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"bbox: expected ((x0, y0), (x1, y1)) with x1 > x0 and y1 > y0, got {bbox}")
        self.n, self.U, self.V, self._copies = n, U, V, {}
        self.x, self.y = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
        hx, hy = (x1 - x0) / (n - 1), (y1 - y0) / (n - 1)
        gx, gy = np.meshgrid(self.x, self.y, indexing="xy")
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        # inside: in a cell up to round-off (the default search tolerance also accepts points
        # up to half a cell outside the domain)
        cells, _, dist = mesh.locate_cells_ref_coords_and_dists(pts)
        inside = (np.asarray(cells) >= 0) & (np.asarray(dist) <= 1e-9)
        if not inside.any():
            raise ValueError(f"bbox: no grid point lies inside the mesh of U (box {bbox})")
        vom = fd.VertexOnlyMesh(mesh, pts[inside])
        E = interpolation_matrix(U, fd.FunctionSpace(vom, "DG", 0)).coalesce()
        # the VOM's own point order -> grid index, by each point's position
        found = vom.coordinates.dat.data_ro.reshape(-1, 2)
        gi = np.rint((found[:, 0] - x0) / hx).astype(np.int64)
        gj = np.rint((found[:, 1] - y0) / hy).astype(np.int64)
        grid_index = torch.as_tensor(gj * n + gi)
        if sorted(grid_index.tolist()) != np.flatnonzero(inside).tolist():
            raise RuntimeError("GridTransfer: the VertexOnlyMesh's points do not match the grid points inside")
        r, c = E.indices()
        self.to_grid = torch.sparse_coo_tensor(torch.stack([grid_index[r], c]), E.values(),
                                               (n * n, U.dim()), check_invariants=False).coalesce()
        self.mask = torch.as_tensor(inside).reshape(n, n)

        Xv = dof_coordinates(V)
        s, t = (Xv[:, 0] - x0) / hx, (Xv[:, 1] - y0) / hy
        i = np.clip(np.floor(s).astype(np.int64), 0, n - 2)
        j = np.clip(np.floor(t).astype(np.int64), 0, n - 2)
        tx, ty = s - i, t - j
        rows, cols, vals = [], [], []
        for di, dj, w in ((0, 0, (1 - tx) * (1 - ty)), (1, 0, tx * (1 - ty)), (0, 1, (1 - tx) * ty),
                          (1, 1, tx * ty)):
            rows.append(np.arange(len(Xv)))
            cols.append((j + dj) * n + (i + di))
            vals.append(w)
        self.from_grid = torch.sparse_coo_tensor(np.stack([np.concatenate(rows), np.concatenate(cols)]),
                                                 np.concatenate(vals), (len(Xv), n * n),
                                                 check_invariants=False).coalesce()

    def _as(self, name, like):
        key = (name, like.dtype, like.device)
        if key not in self._copies:   # one copy per dtype and device, not one per call
            self._copies[key] = getattr(self, name).to(device=like.device, dtype=like.dtype)
        return self._copies[key]

    def to_grid_values(self, u: torch.Tensor) -> torch.Tensor:
        """``(B, U.dim())`` DOF values -> ``(B, n, n)`` grid values (0 outside the domain)."""
        return spmv(self._as("to_grid", u), u).reshape(-1, self.n, self.n)

    def from_grid_values(self, g: torch.Tensor) -> torch.Tensor:
        """``(B, n, n)`` grid values -> ``(B, V.dim())`` values at the nodes of ``V``."""
        return spmv(self._as("from_grid", g), g.reshape(len(g), -1))
