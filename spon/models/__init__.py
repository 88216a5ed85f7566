"""Operator models assembled from encoders, processors and decoders."""
from .checkpoint import load_checkpoint, save_checkpoint
from .factory import build_spon, spaces_from_spec, with_mesh
from .rollout import leapfrog_rollout, rollout
from .spon import SPON
from .transfer import TransferredSPON

__all__ = ["SPON", "TransferredSPON", "build_spon", "spaces_from_spec", "save_checkpoint", "load_checkpoint", "rollout",
           "leapfrog_rollout", "with_mesh"]
