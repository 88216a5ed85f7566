"""Reproducible mesh descriptions: a gmsh source, a size and a number of refinements.

A :class:`MeshSpec` is what checkpoints and datasets store to rebuild their
mesh in a fresh process. Built meshes are cached per process, so the same spec
gives the same Firedrake mesh object (and function spaces built on it match).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["MeshSpec", "build_hierarchy", "build_mesh"]

_built: dict = {}


@dataclass(frozen=True)
class MeshSpec:
    """``source`` (a geometry name or file), max size ``h`` of the gmsh base mesh,
    and ``refinements`` uniform refinements (a Firedrake ``MeshHierarchy``)."""
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
        name = f"{spec.source}_h{spec.h:g}".replace(".", "p").replace("/", "_")
        base = gmsh_mesh(spec.source, spec.h, name=name, **({} if comm is None else {"comm": comm}))
        meshes = (base,) if spec.refinements == 0 else tuple(fd.MeshHierarchy(base, spec.refinements))
        _built[key] = meshes
    return _built[key]


def build_mesh(spec: MeshSpec, comm=None):
    """The finest mesh of :func:`build_hierarchy`."""
    return build_hierarchy(spec, comm)[-1]
