"""Training: the Trainer loop over a DataLoader, FE-norm losses, checkpoints, data parallelism."""
from .closed_form import fit_least_squares
from .distributed import fe_comm, init_from_env, launch, rank_and_world
from .samples import Samples, as_samples
from .trainer import ResumeMismatch, Trainer
from .unrolled import fit_increment_map, fit_leapfrog_map

__all__ = ["Trainer", "ResumeMismatch", "fit_least_squares", "fit_increment_map", "fit_leapfrog_map", "Samples", "as_samples",
           "init_from_env", "rank_and_world", "fe_comm", "launch"]
