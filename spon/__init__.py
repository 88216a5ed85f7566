"""spon: structure-preserving neural operators on finite element spaces.

Layers (each a subpackage):

* :mod:`spon.fem` — FE <-> torch maps: layouts, assembled matrices, encoders,
  structure-preserving decoders, FE norms;
* :mod:`spon.mesh` — gmsh geometry sources loaded into Firedrake, mesh specs;
* :mod:`spon.processors` — learned maps on DOF tensors (MLP, graph, multigrid);
* :mod:`spon.models` — operator networks ``S = D ∘ P_θ ∘ E``, checkpoints;
* :mod:`spon.data` — random fields, PDE problem generators, datasets;
* :mod:`spon.training` — the training loop;
* :mod:`spon.physics` — FE functionals of network outputs with per-sample adjoints;
* :mod:`spon.multiscale` — periodic cell problems, EquiNO surrogates and FE².
"""
import importlib as _importlib

__version__ = "0.1.0"

# Names load on first use (PEP 562): `import spon` and `spon --help` stay fast,
# and Firedrake is imported only when something needs it.
_EXPORTS = {
    "fem": ["SpaceLayout", "to_tensor", "to_functions", "CoefficientEncoder", "MomentEncoder",
            "L2ProjectionEncoder", "InterpolationEncoder", "TransferEncoder", "CoefficientDecoder",
            "DirichletDecoder", "DivergenceFreeDecoder", "MixedDecoder", "FENorm", "FELoss"],
    "mesh": ["MeshSpec", "gmsh_mesh", "read_mesh", "rve_mesh"],
    "models": ["SPON", "build_spon", "save_checkpoint", "load_checkpoint"],
    "processors": ["MLPProcessor", "GraphProcessor", "MultigridProcessor"],
    "multiscale": ["RVEProblem"],
    "training": ["Trainer"],
}
_WHERE = {name: pkg for pkg, names in _EXPORTS.items() for name in names}

__all__ = [name for names in _EXPORTS.values() for name in names]


def __getattr__(name):
    if name in _WHERE:
        value = getattr(_importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'spon' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
