"""Multiscale: periodic cell problems, EquiNO surrogates and FE² (small strain, 2D)."""
from .materials import LinearElastic, Material, NonlinearElasticMatrix, voigt_tangent
from .micro import MicroSolution, RVEProblem, check_strain, equino_materials, voigt_strain, voigt_stress

__all__ = ["Material", "LinearElastic", "NonlinearElasticMatrix", "voigt_tangent", "RVEProblem",
           "MicroSolution", "equino_materials", "check_strain", "voigt_strain", "voigt_stress"]
