"""Periodic 3D RVEs on the unit cube, built with gmsh.

Physical volumes: 1 = matrix, 2 = inclusion. Physical surfaces 1–6 = the faces
x = 0, x = 1, y = 0, y = 1, z = 0, z = 1; opposite faces carry matching nodes
(``setPeriodic``), so Firedrake loads the mesh as periodic.

* ``"fibre"``: a cylindrical fibre along z through the centre (volume fraction ``fraction``, 0.3);
* ``"particle"``: a spherical particle at the centre (``fraction``, 0.2).

Examples
--------
>>> from spon.mesh import rve3d_mesh
>>> mesh = rve3d_mesh("particle", h=0.3)
>>> mesh.geometric_dimension
3
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from ..atomic import atomic_path
from .gmsh_io import cache_dir, gmsh_session

__all__ = ["RVE3D_KINDS", "rve3d_msh", "rve3d_mesh"]

RVE3D_KINDS = ("fibre", "particle")


def _faces(gmsh, axis, value, e=1e-6):
    lo, hi = [-e] * 3, [1 + e] * 3
    lo[axis], hi[axis] = value - e, value + e
    return [t for _, t in gmsh.model.getEntitiesInBoundingBox(*lo, *hi, dim=2)]


def rve3d_msh(kind: str = "particle", h: float = 0.1, fraction: float | None = None) -> Path:
    """Mesh a periodic 3D RVE; return the cached ``.msh`` path."""
    if kind not in RVE3D_KINDS:
        raise ValueError(f"kind: expected one of {RVE3D_KINDS}, got {kind!r}")
    if not (isinstance(h, (int, float)) and 0 < h < 0.5):
        raise ValueError(f"h: expected a mesh size in (0, 0.5), got {h!r}")
    f = {"fibre": 0.3, "particle": 0.2}[kind] if fraction is None else float(fraction)
    r = math.sqrt(f / math.pi) if kind == "fibre" else (3 * f / (4 * math.pi)) ** (1 / 3)
    if not (0 < f and r < 0.45):
        raise ValueError(f"fraction: {fraction} gives an inclusion of radius {r:.3f}; expected one inside the "
                         "cell (radius < 0.45)")
    key = hashlib.sha256(json.dumps([kind, h, f, 1]).encode()).hexdigest()[:16]
    out = cache_dir() / f"rve3d-{kind}-{key}.msh"
    if out.is_file():
        return out
    with gmsh_session() as gmsh:
        gmsh.model.add("rve3d")
        occ = gmsh.model.occ
        box = occ.addBox(0, 0, 0, 1, 1, 1)
        incl = occ.addCylinder(0.5, 0.5, 0, 0, 0, 1, r) if kind == "fibre" else occ.addSphere(0.5, 0.5, 0.5, r)
        _, pieces = occ.fragment([(3, box)], [(3, incl)])
        occ.synchronize()
        inner = sorted({t for _, t in pieces[1]})
        outer = sorted({t for _, t in pieces[0]} - set(inner))
        gmsh.model.addPhysicalGroup(3, outer, 1, "matrix")
        gmsh.model.addPhysicalGroup(3, inner, 2, "fibre" if kind == "fibre" else "particle")
        for axis in range(3):
            lo, hi = _faces(gmsh, axis, 0.0), _faces(gmsh, axis, 1.0)
            gmsh.model.addPhysicalGroup(2, lo, 2 * axis + 1)
            gmsh.model.addPhysicalGroup(2, hi, 2 * axis + 2)
            T = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
            T[4 * axis + 3] = 1
            # gmsh pairs each face on x = 1 with its translate on x = 0 by the affine map
            gmsh.model.mesh.setPeriodic(2, hi, lo, T)
        gmsh.option.setNumber("Mesh.MeshSizeMax", float(h))
        gmsh.option.setNumber("Mesh.MeshSizeMin", float(h) / 3)
        gmsh.model.mesh.generate(3)
        gmsh.option.setNumber("Mesh.MshFileVersion", 2.2)
        with atomic_path(out, ".msh") as tmp:
            gmsh.write(tmp)
    return out


def rve3d_mesh(kind: str = "particle", h: float = 0.1, fraction: float | None = None, name: str | None = None,
               comm=None):
    """A periodic Firedrake mesh of a 3D RVE (see the module docstring)."""
    import firedrake as fd

    path = rve3d_msh(kind, h, fraction)
    kw = {} if comm is None else {"comm": comm}
    return fd.Mesh(str(path), name=name or f"rve3d_{kind}", **kw)
