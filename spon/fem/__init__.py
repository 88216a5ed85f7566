"""FE <-> torch maps: layouts, conversion, assembled matrices, encoders, decoders, norms."""
from .assembly import (clear_cache, curl_matrix, green_matrix, interpolation_matrix, mass_matrix,
                       mixed_mass_matrix, stiffness_matrix)
from .checks import check_finite, check_space, check_tensor
from .convert import to_functions, to_tensor
from .decoders import (CoefficientDecoder, Decoder, DirichletDecoder, DivergenceFreeDecoder,
                       MixedDecoder)
from .encoders import (CoefficientEncoder, Encoder, GreenEncoder, InterpolationEncoder, L2ProjectionEncoder,
                       MomentEncoder, TransferEncoder)
from .functions_io import load_functions, save_functions
from .grid import GridTransfer
from .layout import SpaceLayout, dof_coordinates
from .norms import FELoss, FENorm
from .solve import lu_parameters, spd_solve
from .space_spec import space_from_spec, space_spec
from .forms import ElasticityForm
from .sparse import petsc_to_torch, spmv

__all__ = [
    "SpaceLayout", "dof_coordinates", "to_tensor", "to_functions", "petsc_to_torch", "spmv", "spd_solve",
    "lu_parameters",
    "mass_matrix", "stiffness_matrix", "mixed_mass_matrix", "interpolation_matrix",
    "curl_matrix", "green_matrix", "clear_cache", "check_tensor", "check_finite", "check_space",
    "Encoder", "CoefficientEncoder", "MomentEncoder", "L2ProjectionEncoder",
    "InterpolationEncoder", "TransferEncoder", "GreenEncoder",
    "Decoder", "CoefficientDecoder", "DirichletDecoder", "DivergenceFreeDecoder", "MixedDecoder",
    "FENorm", "FELoss", "GridTransfer", "save_functions", "load_functions", "space_spec", "space_from_spec",
    "ElasticityForm",
]
