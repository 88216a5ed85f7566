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
import os as _os
import sys as _sys

if _os.path.basename(_sys.argv[0]) == "spon":  # the CLI's argv is not for PETSc
    _os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

from .fem import (CoefficientDecoder, CoefficientEncoder, DirichletDecoder, DivergenceFreeDecoder,
                  FELoss, FENorm, InterpolationEncoder, L2ProjectionEncoder, MixedDecoder,
                  MomentEncoder, SpaceLayout, TransferEncoder, to_functions, to_tensor)
from .mesh import MeshSpec, gmsh_mesh, read_mesh, rve_mesh
from .models import SPON, build_spon, load_checkpoint, save_checkpoint
from .processors import GraphProcessor, MLPProcessor, MultigridProcessor
from .multiscale import RVEProblem
from .training import Trainer

__version__ = "0.1.0"

__all__ = [
    "SpaceLayout", "to_tensor", "to_functions",
    "CoefficientEncoder", "MomentEncoder", "L2ProjectionEncoder", "InterpolationEncoder",
    "TransferEncoder", "CoefficientDecoder", "DirichletDecoder", "DivergenceFreeDecoder",
    "MixedDecoder", "FENorm", "FELoss", "gmsh_mesh", "MeshSpec", "MLPProcessor", "GraphProcessor",
    "MultigridProcessor", "SPON", "build_spon", "save_checkpoint", "load_checkpoint", "Trainer",
    "read_mesh", "rve_mesh", "RVEProblem",
]
