"""Read a user's mesh file (any format meshio reads) into Firedrake.

The file is converted to MSH 2.2 in the spon cache (keyed by its contents and
written atomically) and loaded by Firedrake. spon needs physical groups to name
boundaries and regions, so a mesh without them is refused; with
``periodic=True`` the mesh must also declare matching periodic node pairs.

Examples
--------
>>> from spon.mesh import generate_msh, read_mesh
>>> mesh = read_mesh(generate_msh("cook_membrane", h=20.0))
>>> sorted(int(i) for i in mesh.exterior_facets.unique_markers)
[1, 2, 3]
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .gmsh_io import cache_dir

__all__ = ["read_mesh"]

_TAGS = ("gmsh:physical", "medit:ref", "cell_tags", "CellEntityIds")


def _to_msh22(path: Path) -> Path:
    import meshio

    key = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    out = cache_dir() / f"user-{path.stem}-{key}.msh"
    if out.is_file():
        return out
    try:
        m = meshio.read(path)
    except (Exception, SystemExit) as e:   # meshio's XML readers call sys.exit on parse errors
        raise ValueError(f"path: {path} is not a mesh meshio can read ({type(e).__name__}: {e})") from None
    tag = next((t for t in _TAGS if t in m.cell_data), None)
    if tag is None:
        raise ValueError(f"path: {path} has no physical groups (cell data {_TAGS[0]!r} or similar); spon "
                         "needs them to name boundaries (curves) and regions (surfaces)")
    keep = [i for i, b in enumerate(m.cells) if b.type in ("triangle", "quad", "line")]
    if not any(m.cells[i].type in ("triangle", "quad") for i in keep):
        raise ValueError(f"path: {path} holds no 2D cells (triangles or quads)")
    if not any(m.cells[i].type == "line" for i in keep):
        raise ValueError(f"path: {path} has no tagged boundary lines; give boundaries physical groups")
    phys = [np.asarray(m.cell_data[tag][i], dtype=int) for i in keep]
    geom = m.cell_data.get("gmsh:geometrical")
    geom = [np.asarray(geom[i], dtype=int) for i in keep] if geom is not None else phys
    pts = m.points if m.points.shape[1] == 3 else np.c_[m.points, np.zeros(len(m.points))]
    out_mesh = meshio.Mesh(pts, [m.cells[i] for i in keep],
                           cell_data={"gmsh:physical": phys, "gmsh:geometrical": geom},
                           gmsh_periodic=getattr(m, "gmsh_periodic", None))
    with atomic_path(out, ".msh") as tmp:
        meshio.write(tmp, out_mesh, file_format="gmsh22", binary=False)
    return out


def read_mesh(path, *, periodic: bool = False, name: str | None = None, periodic_tol: float = 1e-8, **kwargs):
    """A Firedrake mesh from a user's mesh file.

    Parameters
    ----------
    path : str or Path
        Any format meshio reads (``.msh``, ``.vtu``, ``.xdmf``, ``.mesh`` …) with physical groups.
    periodic : bool
        Require (and load) a periodic RVE, 2D or 3D. A gmsh file's periodic node links
        (``$Periodic``) are used as they are; any other file (or a ``.msh`` without links) is
        made periodic by pairing the nodes of opposite faces by coordinate
        (:func:`spon.mesh.periodic_msh`, tolerance ``periodic_tol`` relative to the cell size;
        quadratic cells reduced to their corners) and refused, naming the first unmatched node,
        when they do not pair up.
    """
    import firedrake as fd

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path: no mesh file at {p}")
    if periodic and not (p.suffix == ".msh" and b"$Periodic" in p.read_bytes()):
        # periodic in geometry only (VTU, Abaqus, tables…): pair the faces' nodes by coordinate
        from .periodic import periodic_msh
        msh, _ = periodic_msh(p, tol=periodic_tol)
        return fd.Mesh(str(msh), name=name or p.stem, **kwargs)
    if periodic and _dimension(p) == 3:
        return fd.Mesh(str(p), name=name or p.stem, **kwargs)
    msh = _to_msh22(p)
    if periodic:
        from .rve import check_periodic_msh
        try:
            check_periodic_msh(msh)
        except ValueError as e:
            raise ValueError(str(e).replace(str(msh), str(p))) from None
    return fd.Mesh(str(msh), name=name or p.stem, **kwargs)


def _dimension(path) -> int:
    import meshio
    m = meshio.read(path)
    return 3 if any(b.type.startswith(("tetra", "hexa")) for b in m.cells) else 2
