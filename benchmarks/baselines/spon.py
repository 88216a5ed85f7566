"""SPON models in a benchmark: a spec, SPON's training recipe, float predictions back as float64."""
from __future__ import annotations

import torch

from spon.models import build_spon
from spon.training import Trainer

RECIPE = ("SPON's: AdamW lr 3e-3, weight decay 1e-4, one-cycle schedule, batch 16, relative FE L2 "
          "(mass-matrix) training loss; L2-projection encoder, Dirichlet decoder (exact zero BCs), "
          "V-cycle processor over the 3-level MeshHierarchy, coarse width 64 with 4 layers")
MG = {"kind": "mg", "width": 16, "coarse_width": 64, "smooth": 1, "coarse_layers": 4}
GRAPH = {"kind": "graph", "width": 16, "layers": 6}
SEARCH = [{"width": w, "smooth": s} for w in (16, 24, 32) for s in (1, 2)]
SETTINGS = {"width": 16, "smooth": 1}


def mg(width=16, smooth=1, **extra) -> dict:
    """The multigrid processor of the benchmarks (coarse width 64, 4 coarse layers)."""
    return {**MG, "width": width, "smooth": smooth, **extra}


class SPONModel:
    """A model built from ``spec`` and trained with :class:`spon.training.Trainer`
    (``lr``, ``batch_size``); ``g``: per-sample boundary data from the inputs themselves."""

    recipe = RECIPE

    def __init__(self, spec: dict, seed: int, lr: float = 3e-3, batch_size: int = 16, g_from_input=False,
                 evaluate_in_float64=False, scheduler: str = "onecycle", optimizer: str = "adamw"):
        self.spec = {**spec, "seed": seed}
        torch.manual_seed(seed)
        self.model, self.seed = build_spon(self.spec), seed
        self.lr, self.batch_size, self.g_from_input = lr, batch_size, g_from_input
        self.scheduler, self.optimizer = scheduler, optimizer
        self.evaluate_in_float64 = evaluate_in_float64
        self.params = sum(p.numel() for p in self.model.parameters())
        self.history = None

    def fit(self, X, Y, epochs, desc="spon", g=None, val=None):
        """``val``: a validation split ``(X, Y)``; training ends with the weights of its best epoch."""
        data = (X, Y, {"g": X if g is None else g}) if self.g_from_input or g is not None else (X, Y)
        if val is not None and (self.g_from_input or g is not None):
            raise ValueError("val: a validation split with boundary data from the inputs is not supported")
        self.history = Trainer(self.model, epochs=epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                               desc=desc, scheduler=self.scheduler, optimizer=self.optimizer).fit(
            data, val, restore_best=val is not None)
        return self

    @torch.no_grad()
    def predict(self, X, g=None, batch=64):
        self.model.eval()
        if self.evaluate_in_float64:    # the trained weights in float64: structure to float64 round-off
            self.model.double()
            X = X.double()
        dtype = next(self.model.parameters()).dtype
        outs = []
        for i, x in enumerate(X.split(batch)):
            x = x.to(dtype)
            if self.g_from_input or g is not None:
                gi = x if g is None else g[i * batch:(i + 1) * batch].to(dtype)
                outs.append(self.model(x, g=gi))
            else:
                outs.append(self.model(x))
        return torch.cat(outs).double().reshape(len(X), -1)
