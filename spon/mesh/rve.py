"""Periodic representative volume elements (RVEs) on the unit cell, built with gmsh.

The cell ``[0, 1]²`` holds stiff inclusions (fibres) in a matrix. Opposite edges
carry matching nodes (``gmsh.model.mesh.setPeriodic``), so Firedrake loads the
mesh as periodic and CG spaces on it are periodic by construction. Physical
groups: surfaces 1 = matrix, 2 = fibre; curves 1 = x=0, 2 = x=1, 3 = y=0, 4 = y=1.

Geometries (EquiNO-like):

* ``"fibre"``: a central fibre plus four corner quarter-fibres (fraction ``f``, ≈ 0.55);
* ``"ellipse"``: one inclined ellipse (semi-axis ``a``, fraction ``f`` ≈ 0.19, angle);
* ``"three_circles"``: three circles of different radii (≈ 0.125 fibre).
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from ..atomic import atomic_path
from .gmsh_io import cache_dir, gmsh_session

__all__ = ["RVE_KINDS", "rve_msh", "rve_mesh", "check_periodic_msh", "tile_rve_msh"]

RVE_KINDS = ("fibre", "ellipse", "three_circles")
_TOL = 1e-8


def _add_inclusions(occ, kind, p):
    if kind == "fibre":
        r = math.sqrt(p.get("fraction", 0.55) / (2 * math.pi))
        if 2 * r >= math.sqrt(0.5):
            raise ValueError(f"fraction: {p.get('fraction')} makes the central and corner fibres overlap")
        return [occ.addDisk(x, y, 0, r, r) for x, y in ((0.5, 0.5), (0, 0), (1, 0), (0, 1), (1, 1))]
    if kind == "ellipse":
        f, a = p.get("fraction", 0.19), p.get("a", 0.35)
        b = f / (math.pi * a)
        if not (0 < b <= a < 0.5):
            raise ValueError(f"a, fraction: expected semi-axes 0 < b ≤ a < 0.5, got a={a}, b={b:.3f}")
        tag = occ.addDisk(0.5, 0.5, 0, a, b)
        occ.rotate([(2, tag)], 0.5, 0.5, 0, 0, 0, 1, math.radians(p.get("angle", 30.0)))
        return [tag]
    if kind == "three_circles":
        circles = p.get("circles", [(0.3, 0.3, 0.14), (0.7, 0.35, 0.11), (0.45, 0.72, 0.09)])
        return [occ.addDisk(x, y, 0, r, r) for x, y, r in circles]
    raise ValueError(f"kind: expected one of {RVE_KINDS}, got {kind!r}")


def _side_curves(gmsh, side):
    e = 1e-6
    box = {"left": (-e, -e, -e, e, 1 + e, e), "right": (1 - e, -e, -e, 1 + e, 1 + e, e),
           "bottom": (-e, -e, -e, 1 + e, e, e), "top": (-e, 1 - e, -e, 1 + e, 1 + e, e)}[side]
    return [t for _, t in gmsh.model.getEntitiesInBoundingBox(*box, dim=1)]


def _match(gmsh, slaves, masters, shift):
    pairs = []
    for s in slaves:
        bs = gmsh.model.getBoundingBox(1, s)
        for m in masters:
            bm = gmsh.model.getBoundingBox(1, m)
            if all(abs(bs[i] - bm[i] - shift[i % 3]) < 1e-6 for i in range(6)):
                pairs.append((s, m))
                break
        else:
            raise RuntimeError(f"no periodic partner for curve {s}")
    return pairs


def rve_msh(kind: str = "fibre", h: float = 0.05, **params) -> Path:
    """Mesh a periodic RVE; return the cached ``.msh`` path."""
    if not (isinstance(h, (int, float)) and 0 < h < 0.5):
        raise ValueError(f"h: expected a mesh size in (0, 0.5), got {h!r}")
    if kind not in RVE_KINDS:
        raise ValueError(f"kind: expected one of {RVE_KINDS}, got {kind!r}")
    key = hashlib.sha256(json.dumps([kind, h, params, 2], sort_keys=True, default=str).encode()).hexdigest()[:16]
    out = cache_dir() / f"rve-{kind}-{key}.msh"
    if out.is_file():
        return out
    with gmsh_session() as gmsh:
        gmsh.model.add("rve")
        occ = gmsh.model.occ
        cell = occ.addRectangle(0, 0, 0, 1, 1)
        incl = _add_inclusions(occ, kind, params)
        # keep only the parts of the inclusions inside the cell, then fragment
        inside, _ = occ.intersect([(2, t) for t in incl], [(2, cell)], removeObject=True, removeTool=False)
        _, pieces = occ.fragment([(2, cell)], inside)
        occ.synchronize()
        # pieces[0]: what the cell became; pieces[1:]: what each inclusion became
        fibres = sorted({t for group in pieces[1:] for _, t in group})
        matrix = sorted({t for _, t in pieces[0]} - set(fibres))
        gmsh.model.addPhysicalGroup(2, matrix, 1, "matrix")
        gmsh.model.addPhysicalGroup(2, fibres, 2, "fibre")
        sides = {s: _side_curves(gmsh, s) for s in ("left", "right", "bottom", "top")}
        for tag, s in ((1, "left"), (2, "right"), (3, "bottom"), (4, "top")):
            gmsh.model.addPhysicalGroup(1, sides[s], tag, s)
        for slave, master, shift in (("right", "left", (1, 0, 0)), ("top", "bottom", (0, 1, 0))):
            for s, m in _match(gmsh, sides[slave], sides[master], shift):
                T = [1, 0, 0, shift[0], 0, 1, 0, shift[1], 0, 0, 1, shift[2], 0, 0, 0, 1]
                gmsh.model.mesh.setPeriodic(1, [s], [m], T)
        gmsh.option.setNumber("Mesh.MeshSizeMax", float(h))
        gmsh.option.setNumber("Mesh.MeshSizeMin", float(h) / 3)
        gmsh.model.mesh.generate(2)
        gmsh.option.setNumber("Mesh.MshFileVersion", 2.2)
        with atomic_path(out, ".msh") as tmp:
            gmsh.write(tmp)
    return out


def check_periodic_msh(path) -> None:
    """Raise unless the boundary nodes of ``path`` on x=0 / y=0 have partners on x=1 / y=1."""
    import numpy as np

    with gmsh_session() as gmsh:
        gmsh.open(str(path))
        _, xyz, _ = gmsh.model.mesh.getNodes()
    # the $Periodic section (MSH 2 and 4) starts with the number of periodic entity links
    raw = Path(path).read_bytes()
    at = raw.find(b"$Periodic")
    linked = int(raw[at:].split(b"\n", 2)[1].split()[0]) if at >= 0 else 0
    if linked < 2:
        raise ValueError(f"path: {path} is not a periodic RVE: it declares no periodic node pairs "
                         "(gmsh: setPeriodic for x=1 -> x=0 and y=1 -> y=0)")
    X = xyz.reshape(-1, 3)[:, :2]
    lo, hi = X.min(axis=0), X.max(axis=0)
    for d in (0, 1):
        a = np.sort(X[np.abs(X[:, d] - lo[d]) < _TOL][:, 1 - d])
        b = np.sort(X[np.abs(X[:, d] - hi[d]) < _TOL][:, 1 - d])
        if a.shape != b.shape or not np.allclose(a, b, atol=1e-9):
            raise ValueError(f"path: {path} is not a periodic RVE: the nodes on the two edges normal to "
                             f"{'xy'[d]} do not match ({len(a)} vs {len(b)} nodes)")


def rve_mesh(kind: str = "fibre", h: float = 0.05, name: str | None = None, comm=None, **params):
    """A periodic Firedrake mesh of an RVE (see the module docstring)."""
    import firedrake as fd

    path = rve_msh(kind, h, **params)
    check_periodic_msh(path)
    kw = {} if comm is None else {"comm": comm}
    return fd.Mesh(str(path), name=name or f"rve_{kind}", **kw)


def tile_rve_msh(path, n: int) -> Path:
    """``n × n`` copies of a periodic RVE mesh, merged into one conforming mesh; the cached ``.msh`` path.

    The copies are the RVE's own triangles shifted by whole cells, so every cell of
    the tiled mesh is meshed exactly as the RVE is: a fully resolved simulation on it
    differs from FE² on that RVE only by scale separation. Periodic edge nodes make
    neighbouring copies conform. Physical groups: the RVE's surface ids are kept;
    curves 1 = x = x₀ (left), 2 = x = x₀ + n Lx (right), 3 = bottom, 4 = top.
    """
    import meshio
    import numpy as np

    path = Path(path)
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n: expected a positive integer number of cells per side, got {n!r}")
    check_periodic_msh(path)
    key = hashlib.sha256(path.read_bytes() + f"tile{n}".encode()).hexdigest()[:16]
    out = cache_dir() / f"tiled-{path.stem}-{n}x{n}-{key}.msh"
    if out.is_file():
        return out
    m = meshio.read(path)
    tris = [i for i, b in enumerate(m.cells) if b.type == "triangle"]
    if not tris or "gmsh:physical" not in m.cell_data:
        raise ValueError(f"path: {path} has no triangles with physical surface ids")
    cells = np.concatenate([m.cells[i].data for i in tris])
    phys = np.concatenate([np.asarray(m.cell_data["gmsh:physical"][i]) for i in tris])
    used = np.unique(cells)
    X = m.points[:, :2]
    lo, hi = X[used].min(axis=0), X[used].max(axis=0)
    L = hi - lo
    pts, tri = [], []
    for j in range(n):
        for i in range(n):
            pts.append(X + L * (i, j))
            tri.append(cells + len(X) * (j * n + i))
    pts, tri = np.concatenate(pts), np.concatenate(tri)
    # shared edge nodes of neighbouring copies coincide up to round-off: merge them
    keys = np.round((pts - lo) / L * 2**20).astype(np.int64)
    _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    tri = inv[tri]
    alive = np.unique(tri)
    renum = np.full(len(first), -1)
    renum[alive] = np.arange(len(alive))
    tri, P, phys = renum[tri], pts[first[alive]], np.tile(phys, n * n)
    # boundary edges: those of one triangle only
    e = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    edges, count = np.unique(e, axis=0, return_counts=True)
    edges = edges[count == 1]
    mid = P[edges].mean(axis=1)
    top = lo + n * L
    tol = 1e-9 * L.max()
    side = np.zeros(len(edges), dtype=int)
    for tag, (d, v) in enumerate(((0, lo[0]), (0, top[0]), (1, lo[1]), (1, top[1])), start=1):
        side[np.abs(mid[:, d] - v) < tol] = tag
    if np.any(side == 0):
        raise ValueError(f"path: {path} tiles with boundary edges off the outer box (holes are not supported)")
    mesh = meshio.Mesh(np.c_[P, np.zeros(len(P))], [("triangle", tri), ("line", edges)],
                       cell_data={"gmsh:physical": [phys, side], "gmsh:geometrical": [phys, side]})
    with atomic_path(out, ".msh") as tmp:
        meshio.write(tmp, mesh, file_format="gmsh22", binary=False)
    return out
