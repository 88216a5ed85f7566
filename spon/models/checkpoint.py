"""Checkpoints that rebuild a model in a fresh process.

Every checkpoint spon writes is a dict with a ``format`` tag, written
atomically by :func:`write_checkpoint` and checked on the way back in by
:func:`read_checkpoint`. A SPON checkpoint holds the model's spec (mesh
source, element family and degree, BCs, processor hyperparameters), its
``state_dict`` and optional training state; surrogates of
:mod:`spon.multiscale` use the same two functions with their own format.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..atomic import atomic_path

__all__ = ["save_checkpoint", "load_checkpoint", "write_checkpoint", "read_checkpoint"]

FORMAT = "spon-checkpoint-1"


def write_checkpoint(obj: dict, path) -> Path:
    """``torch.save`` of a dict holding a ``format`` tag, atomically."""
    if not isinstance(obj, dict) or "format" not in obj:
        raise ValueError("obj: expected a dict with a 'format' tag")
    with atomic_path(path, ".pt.tmp") as tmp:
        torch.save(obj, tmp)
    return Path(path)


def read_checkpoint(path, fmt: str, what: str = "a spon checkpoint", map_location="cpu") -> dict:
    """Load the dict at ``path``; raise a clear error unless it exists, loads and has format ``fmt``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected {what}, but {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise ValueError(f"path: {path} is not {what}: it is not a readable checkpoint "
                         f"({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
        raise ValueError(f"path: {path} is not {what} (expected format {fmt!r})")
    return ckpt


def save_checkpoint(model, path, **extra) -> Path:
    """Save ``model`` and ``extra`` state.

    A model built by :func:`~spon.models.build_spon` is saved by its spec. A model
    built by hand from a user's own mesh and spaces gets one
    (:func:`~spon.models.factory.spec_from_model`): its base mesh goes into a
    Firedrake ``CheckpointFile`` next to ``path`` (``<stem>.mesh.h5``), and
    :func:`load_checkpoint` rebuilds the same spaces from it.
    """
    from .factory import spec_from_model

    path = Path(path)
    spec = getattr(model, "spec", None)
    if spec is None:
        mesh_file = path.with_name(path.stem + ".mesh.h5")
        spec = spec_from_model(model, mesh_file)
        model.spec = spec
        spec = {**spec, "mesh": {**spec["mesh"], "source": mesh_file.name + "#" + spec["mesh"]["source"]
                                 .split("#", 1)[1]}}          # stored relative to the checkpoint
    return write_checkpoint({"format": FORMAT, "spec": spec, "state_dict": model.state_dict(), **extra}, path)


def load_checkpoint(path, map_location="cpu", with_state: bool = False):
    """Rebuild the model saved at ``path``; with ``with_state`` also return the whole dict."""
    from .factory import build_spon

    ckpt = read_checkpoint(path, FORMAT, "a spon checkpoint", map_location)
    spec = ckpt["spec"]
    src = str(spec["mesh"]["source"])
    if "#" in src and src.split("#", 1)[0].endswith(".h5") and not Path(src.split("#", 1)[0]).is_absolute():
        spec = {**spec, "mesh": {**spec["mesh"], "source": str(Path(path).parent / src)}}
    model = build_spon(spec)
    model.load_state_dict(ckpt["state_dict"])
    model.to(map_location)
    return (model, ckpt) if with_state else model
