"""spon: structure-preserving neural operators on finite element spaces.

Layers (each a subpackage):

* :mod:`spon.fem` — FE <-> torch maps: layouts, assembled matrices, encoders,
  structure-preserving decoders, FE norms;
* :mod:`spon.mesh` — gmsh geometry sources loaded into Firedrake;
* :mod:`spon.processors` — learned maps on DOF tensors;
* :mod:`spon.models` — operator networks ``S = D ∘ P_θ ∘ E``.
"""
from .fem import (CoefficientDecoder, CoefficientEncoder, DirichletDecoder, DivergenceFreeDecoder,
                  FELoss, FENorm, InterpolationEncoder, L2ProjectionEncoder, MixedDecoder,
                  MomentEncoder, SpaceLayout, TransferEncoder, to_functions, to_tensor)
from .mesh import gmsh_mesh
from .models import SPON
from .processors import MLPProcessor

__version__ = "0.1.0"

__all__ = [
    "SpaceLayout", "to_tensor", "to_functions",
    "CoefficientEncoder", "MomentEncoder", "L2ProjectionEncoder", "InterpolationEncoder",
    "TransferEncoder", "CoefficientDecoder", "DirichletDecoder", "DivergenceFreeDecoder",
    "MixedDecoder", "FENorm", "FELoss", "gmsh_mesh", "MLPProcessor", "SPON",
]
