"""Checkpoints that rebuild a model in a fresh process.

A checkpoint holds the model's spec (mesh source, element family and degree,
BCs, processor hyperparameters), its ``state_dict`` and optional training
state. Files are written to a temporary name and renamed (atomic on POSIX).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..atomic import atomic_path

__all__ = ["save_checkpoint", "load_checkpoint", "atomic_torch_save"]

FORMAT = "spon-checkpoint-1"


def atomic_torch_save(obj, path) -> Path:
    with atomic_path(path, ".pt.tmp") as tmp:
        torch.save(obj, tmp)
    return Path(path)


def save_checkpoint(model, path, **extra) -> Path:
    """Save ``model`` (built by :func:`~spon.models.build_spon`) and ``extra`` state."""
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("model: expected a model built by spon.models.build_spon (it has no .spec)")
    return atomic_torch_save({"format": FORMAT, "spec": spec, "state_dict": model.state_dict(), **extra}, path)


def load_checkpoint(path, map_location="cpu", with_state: bool = False):
    """Rebuild the model saved at ``path``; with ``with_state`` also return the whole dict."""
    from .factory import build_spon

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a spon checkpoint, but {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise ValueError(f"path: {path} is not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"path: {path} is not a spon checkpoint (expected format {FORMAT!r})")
    model = build_spon(ckpt["spec"])
    model.load_state_dict(ckpt["state_dict"])
    model.to(map_location)
    return (model, ckpt) if with_state else model
