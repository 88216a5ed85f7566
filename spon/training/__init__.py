"""Training: the Trainer loop with FE-norm losses, schedules and checkpoints."""
from .trainer import Trainer

__all__ = ["Trainer"]
