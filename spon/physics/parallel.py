"""Physics losses over a ``firedrake.Ensemble``: each member evaluates a slice of the batch.

Every rank holds the whole batch (the network is replicated); the FE work —
assembly, solves, adjoints — is split by samples over the ensemble members,
and values and per-sample gradients are all-gathered, so every rank gets the
same ``J`` and the same gradients as one process would.

    from firedrake import COMM_WORLD, Ensemble
    ens = Ensemble(COMM_WORLD, 1)
    J = EnsembleFunctional(lambda comm: make_residual(comm), ens)
"""
from __future__ import annotations

import numpy as np
import torch

from ..ensemble import member_range
from .functionals import FEFunctional

__all__ = ["EnsembleFunctional"]


class EnsembleFunctional(FEFunctional):
    """Wrap ``make_functional(comm)`` (built on each member's communicator) so that a
    batch is split over the members of ``ensemble``."""

    def __init__(self, make_functional, ensemble):
        self.ensemble = ensemble
        self.local = make_functional(ensemble.comm)
        if not isinstance(self.local, FEFunctional):
            raise TypeError(f"make_functional: expected it to return an FEFunctional, got "
                            f"{type(self.local).__name__}")
        super().__init__(self.local.V, self.local.data_spaces)

    def evaluate(self, u, data, need_grad):
        comm = self.ensemble.ensemble_comm
        lo, hi = member_range(u.shape[0], comm.size, comm.rank)
        local = None
        if hi > lo:
            J, grads = self.local.evaluate(u[lo:hi], [d[lo:hi] for d in data], need_grad)
            local = (lo, J.numpy(), [None if g is None else g.numpy() for g in grads])
        parts = sorted((p for p in comm.allgather(local) if p is not None), key=lambda p: p[0])
        J = torch.as_tensor(np.concatenate([p[1] for p in parts]))
        grads = [torch.as_tensor(np.concatenate([p[2][i] for p in parts])) if n else None
                 for i, n in enumerate(need_grad)]
        return J, grads
