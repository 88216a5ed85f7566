"""Surrogate checkpoints: every kind (EquiNO, the σ̄-MLP, a user's subclass) saved and rebuilt alike."""
from __future__ import annotations

from ..models.checkpoint import read_checkpoint, write_checkpoint
from . import equino, stress_mlp  # noqa: F401  (the built-in kinds register themselves)
from .surrogate import Surrogate

__all__ = ["save_surrogate", "load_surrogate", "FORMAT"]

FORMAT = "spon-surrogate-1"


def save_surrogate(model: Surrogate, path) -> None:
    """Atomic checkpoint: buffers, weights and the metadata to rebuild the model."""
    if not isinstance(model, Surrogate):
        raise TypeError(f"model: expected a spon.multiscale.Surrogate, got {type(model).__name__}")
    write_checkpoint({"format": FORMAT, "meta": model.meta, "state_dict": model.state_dict()}, path)


def load_surrogate(path, materials: dict | None = None) -> Surrogate:
    """Rebuild a surrogate saved by :func:`save_surrogate` (pass ``materials`` for user laws)."""
    ck = read_checkpoint(path, FORMAT, "a spon surrogate checkpoint")
    kind = ck["meta"].get("kind")
    if kind not in Surrogate.kinds:
        raise ValueError(f"path: {path} holds an unknown surrogate kind {kind!r}; expected one of "
                         f"{sorted(Surrogate.kinds)}")
    m = Surrogate.kinds[kind].from_meta(dict(ck["meta"]), materials)
    m.load_state_dict(ck["state_dict"])
    return m
