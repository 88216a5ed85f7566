"""Multiscale: periodic cell problems, EquiNO surrogates and FE² (small strain 2D; finite strain and small strain, 2D and 3D)."""
from .materials import LinearElastic, Material, NonlinearElasticMatrix, material_spec, materials_from_spec
from .voigt import VOIGT_WEIGHTS, voigt_strain, voigt_stress, voigt_tangent
from .micro import MicroSolution, RVEProblem, check_strain, equino_materials
from .surrogate import Surrogate
from .surrogate_io import load_surrogate, save_surrogate
from .equino import EquiNO
from .stress_mlp import StressMLP
from .fit import fit_equino, fit_stress_mlp, select_stress_mlp
from .metrics import error_table, field_errors
from .pod import pod
from .macro import FE2Material, LawMaterial, MacroProblem, QuadratureMaterial, SurrogateMaterial
from .snapshots import RVEQuadrature, collect_snapshots, latin_hypercube
from .dns import DNSProblem
from .hyperelastic import HyperelasticLaw, MooneyRivlin, NeoHookean, UserHyperelastic
from .cell import CellSolution, FiniteStrainRVEProblem
from .laminate import finite_strain_laminate, laminate_stiffness

__all__ = ["Material", "LinearElastic", "NonlinearElasticMatrix", "RVEProblem",
           "MicroSolution", "equino_materials", "check_strain", "voigt_strain", "voigt_stress",
           "EquiNO", "StressMLP", "material_spec", "materials_from_spec", "VOIGT_WEIGHTS", "voigt_tangent",
           "Surrogate", "fit_equino", "fit_stress_mlp", "select_stress_mlp",
           "save_surrogate", "load_surrogate", "field_errors", "error_table", "pod",
           "MacroProblem", "QuadratureMaterial", "LawMaterial", "FE2Material", "SurrogateMaterial",
           "RVEQuadrature", "collect_snapshots", "latin_hypercube", "DNSProblem",
           "HyperelasticLaw", "NeoHookean", "MooneyRivlin", "UserHyperelastic", "FiniteStrainRVEProblem",
           "CellSolution", "finite_strain_laminate", "laminate_stiffness"]
