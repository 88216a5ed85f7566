"""Physics coupling: FE functionals of network outputs with per-sample adjoints."""
from .batched import BatchSpace
from .hyperelastic import HyperelasticEnergy, PotentialEnergyLoss, mooney_rivlin, neo_hookean
from .functionals import EnergyFunctional, FEFunctional, ReducedFunctional, ResidualFunctional, fe_functional
from .losses import HybridLoss
from .stokes_energy import StokesEnergy
from .parallel import EnsembleFunctional

__all__ = ["BatchSpace", "FEFunctional", "EnergyFunctional", "ResidualFunctional", "ReducedFunctional",
           "fe_functional", "HybridLoss", "EnsembleFunctional", "HyperelasticEnergy",
           "PotentialEnergyLoss", "neo_hookean", "mooney_rivlin", "StokesEnergy"]
