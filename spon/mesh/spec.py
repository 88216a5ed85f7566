"""Reproducible mesh descriptions: a gmsh source, a size and a number of refinements.

A :class:`MeshSpec` is what checkpoints and datasets store to rebuild their
mesh in a fresh process. Built meshes are cached per process, so the same spec
gives the same Firedrake mesh object (and function spaces built on it match).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["MeshSpec", "build_hierarchy", "build_mesh", "save_mesh"]

_built: dict = {}


@dataclass(frozen=True)
class MeshSpec:
    """``source`` (a geometry name or file), max size ``h`` of the gmsh base mesh,
    and ``refinements`` uniform refinements (a Firedrake ``MeshHierarchy``).

    ``source`` may also be a Firedrake ``CheckpointFile`` holding the base mesh,
    written ``"path/to/file.h5#mesh_name"`` (``h`` is then unused): a user's own
    mesh, stored next to a model's weights (:func:`save_mesh`)."""
    source: str = "unit_square"
    h: float = 0.1
    refinements: int = 0

    def __post_init__(self):
        if not (isinstance(self.refinements, int) and self.refinements >= 0):
            raise ValueError(f"refinements: expected a non-negative integer, got {self.refinements!r}")
        if not (isinstance(self.h, (int, float)) and self.h > 0):
            raise ValueError(f"h: expected a positive mesh size, got {self.h!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MeshSpec":
        try:
            return cls(source=str(d["source"]), h=float(d["h"]), refinements=int(d["refinements"]))
        except (KeyError, TypeError) as e:
            raise ValueError(f"mesh spec: expected keys source, h, refinements, got {d!r}") from e

    def refined(self, extra: int = 1) -> "MeshSpec":
        return MeshSpec(self.source, self.h, self.refinements + extra)


def build_hierarchy(spec: MeshSpec, comm=None) -> tuple:
    """Meshes from the gmsh base (coarsest) to ``spec.refinements`` refinements (finest),
    on ``comm`` (default COMM_WORLD; an ``Ensemble`` member passes ``ensemble.comm``)."""
    import firedrake as fd

    from .gmsh_io import gmsh_mesh

    key = (spec.source, float(spec.h), spec.refinements, None if comm is None else id(comm))
    if key not in _built:
        if _checkpointed(spec.source):
            base = _load_mesh(spec.source, comm)
        else:
            name = f"{spec.source}_h{spec.h:g}".replace(".", "p").replace("/", "_")
            base = gmsh_mesh(spec.source, spec.h, name=name, **({} if comm is None else {"comm": comm}))
        meshes = (base,) if spec.refinements == 0 else tuple(fd.MeshHierarchy(base, spec.refinements))
        _built[key] = meshes
    return _built[key]


def build_mesh(spec: MeshSpec, comm=None):
    """The finest mesh of :func:`build_hierarchy`."""
    return build_hierarchy(spec, comm)[-1]


def _checkpointed(source: str) -> bool:
    return "#" in str(source) and str(source).split("#", 1)[0].endswith(".h5")


def _load_mesh(source: str, comm=None):
    import firedrake as fd
    from pathlib import Path

    path, name = str(source).split("#", 1)
    if not Path(path).is_file():
        raise FileNotFoundError(f"source: expected a Firedrake CheckpointFile at {path}, but it does not exist")
    with fd.CheckpointFile(path, "r", **({} if comm is None else {"comm": comm})) as f:
        try:
            return f.load_mesh(name)
        except Exception as e:
            raise ValueError(f"source: {path} holds no mesh named {name!r} ({type(e).__name__}: {e})") from None


def save_mesh(mesh, path, extra: dict | None = None) -> str:
    """Write ``mesh`` (a base mesh, not a refined level) to a new CheckpointFile at
    ``path``; return the ``source`` string of a :class:`MeshSpec` that loads it.
    ``extra``: ``{"group/name": array}`` written beside the mesh, in the same file."""
    import firedrake as fd
    from pathlib import Path

    from ..atomic import atomic_path

    path = Path(path)
    if path.suffix != ".h5":
        raise ValueError(f"path: expected a .h5 file for the CheckpointFile, got {path}")
    with atomic_path(path, ".h5.tmp") as tmp:
        with fd.CheckpointFile(str(tmp), "w", comm=mesh.comm) as f:
            f.save_mesh(mesh)
        if extra:
            import h5py
            with h5py.File(tmp, "a") as f:
                for name, array in extra.items():
                    f.create_dataset(name, data=array)
    return f"{path}#{mesh.name}"
