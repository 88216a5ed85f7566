"""Data: Gaussian random fields, PDE problem generators, HDF5 datasets."""
from .dataset import FEDataset, dof_fingerprint, generate_dataset, write_dataset
from .grf import MaternGRF
from .parallel import generate_dataset_ensemble
from .problems import PROBLEMS, DarcyProblem, ElasticityProblem, PoissonProblem, Problem, make_problem
from .hyperelastic import HyperelasticityProblem
from .stokes import StokesProblem

PROBLEMS["hyperelasticity"] = HyperelasticityProblem
PROBLEMS["stokes"] = StokesProblem

__all__ = ["MaternGRF", "Problem", "PoissonProblem", "DarcyProblem", "ElasticityProblem", "HyperelasticityProblem",
           "StokesProblem", "PROBLEMS", "make_problem", "generate_dataset_ensemble", "FEDataset", "write_dataset",
           "generate_dataset", "dof_fingerprint"]
