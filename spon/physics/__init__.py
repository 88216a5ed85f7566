"""Physics coupling: FE functionals of network outputs with per-sample adjoints."""
from .batched import BatchSpace
from .functionals import EnergyFunctional, FEFunctional, ReducedFunctional, ResidualFunctional, fe_functional
from .losses import HybridLoss
from .parallel import EnsembleFunctional

__all__ = ["BatchSpace", "FEFunctional", "EnergyFunctional", "ResidualFunctional", "ReducedFunctional",
           "fe_functional", "HybridLoss", "EnsembleFunctional"]
