"""Build meshes with gmsh from ``.geo`` sources and load them into Firedrake.

Generated ``.msh`` files are cached under ``$SPON_CACHE/meshes`` (default
``~/.cache/spon/meshes``), keyed by the source's contents and the mesh size,
and written atomically.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from ..atomic import atomic_path

__all__ = ["GEOMETRIES", "meshes_dir", "cache_dir", "gmsh_session", "generate_msh", "gmsh_mesh"]

GEOMETRIES = ("unit_square", "l_shape", "plate_with_hole", "cook_membrane", "l_profile", "cube_hole", "bracket",
              "dfg_cylinder", "clamped_square")


def meshes_dir() -> Path:
    """The folder of geometry sources: ``$SPON_MESHES`` or the repository's ``meshes/``."""
    return Path(os.environ.get("SPON_MESHES", Path(__file__).resolve().parents[2] / "meshes"))


def cache_dir() -> Path:
    """Where generated ``.msh`` files are kept: ``$SPON_CACHE/meshes`` (default ``~/.cache/spon/meshes``)."""
    root = Path(os.environ.get("SPON_CACHE", Path.home() / ".cache" / "spon"))
    d = root / "meshes"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _resolve(source) -> Path:
    p = Path(source)
    if p.suffix not in (".geo", ".msh"):
        p = meshes_dir() / f"{source}.geo"
    if not p.is_file():
        raise FileNotFoundError(f"source: expected a .geo/.msh file or one of {GEOMETRIES}, "
                                f"but {p} does not exist")
    return p


@contextlib.contextmanager
def gmsh_session():
    """The gmsh API, initialised and quiet, finalised on exit (gmsh holds one global model)."""
    import gmsh
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        yield gmsh
    finally:
        gmsh.finalize()


def _require_physical_groups(gmsh, path):
    if not gmsh.model.getPhysicalGroups():
        raise ValueError(f"source: {path} defines no physical groups; spon needs them to "
                         "name boundaries (Physical Curve) and cell regions (Physical Surface)")


def generate_msh(source, h: float = 0.1, order: int = 1) -> Path:
    """Mesh a ``.geo`` source (a name from :data:`GEOMETRIES` or a path) with
    maximum element size ``h``; return the cached ``.msh`` path."""
    if not (isinstance(h, (int, float)) and h > 0):
        raise ValueError(f"h: expected a positive mesh size, got {h!r}")
    geo = _resolve(source)
    if geo.suffix == ".msh":
        return geo
    key = hashlib.sha256(geo.read_bytes() + f"|{h!r}|{order}".encode()).hexdigest()[:16]
    out = cache_dir() / f"{geo.stem}-{key}.msh"
    if out.is_file():
        return out
    with gmsh_session() as gmsh:
        gmsh.option.setNumber("Mesh.MeshSizeMax", float(h))   # before parsing: a .geo may read it
        gmsh.open(str(geo))
        gmsh.option.setNumber("Mesh.MeshSizeMax", float(h))
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.model.mesh.generate(gmsh.model.getDimension())     # 2D surfaces or 3D volumes
        if order > 1:
            gmsh.model.mesh.setOrder(order)
        _require_physical_groups(gmsh, geo)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        with atomic_path(out, ".msh") as tmp:
            gmsh.write(tmp)
    return out


def _check_msh(path: Path):
    with gmsh_session() as gmsh:
        try:
            gmsh.open(str(path))
        except Exception as e:
            raise ValueError(f"source: {path} is not a readable gmsh mesh ({e})") from None
        if gmsh.model.mesh.getNodes()[0].size == 0:
            raise ValueError(f"source: {path} holds no mesh nodes")
        _require_physical_groups(gmsh, path)


def gmsh_mesh(source="unit_square", h: float = 0.1, *, name: str | None = None, **kwargs):
    """A Firedrake mesh from a gmsh source.

    Parameters
    ----------
    source : str or Path
        One of :data:`GEOMETRIES`, or a path to a ``.geo`` or ``.msh`` file.
    h : float
        Maximum element size (ignored for ``.msh``).
    name : str, optional
        Firedrake mesh name (default: derived from the source and ``h``).
    **kwargs : passed on to :func:`firedrake.Mesh`.

    Examples
    --------
    >>> mesh = gmsh_mesh("unit_square", h=0.25)
    >>> mesh.topological_dimension
    2
    """
    import firedrake as fd

    msh = generate_msh(source, h)
    if Path(source).suffix == ".msh":
        _check_msh(msh)
    name = name or f"{Path(msh).stem}"
    return fd.Mesh(str(msh), name=name, **kwargs)
