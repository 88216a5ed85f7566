"""A batch of B functions on ``V`` as one Firedrake Function with B components.

Firedrake assembles a form over a batch in one kernel call when the batch is a
component index: a scalar space ``V`` becomes ``VectorFunctionSpace(dim=B)``
and a vector space ``V`` (value size d) becomes ``TensorFunctionSpace(shape=(B, d))``.
:meth:`BatchSpace.sample` gives the UFL expression of sample ``b``, so a
per-sample form written by the user is summed over the batch.
"""
from __future__ import annotations

import firedrake as fd
import numpy as np
import torch
import ufl

__all__ = ["BatchSpace"]


class BatchSpace:
    """Batched version of a scalar or vector (non-mixed) space ``V``."""

    def __init__(self, V, batch: int):
        if len(V) > 1:
            raise ValueError(f"V: expected a non-mixed space for batching, got a mixed space {V}")
        if V.value_shape not in ((),) and len(V.value_shape) != 1:
            raise ValueError(f"V: expected a scalar or vector space, got value shape {V.value_shape}")
        self.V, self.B = V, int(batch)
        elem = V.ufl_element()
        base = elem.sub_elements[0] if V.value_shape else elem
        mesh = V.mesh()
        if V.value_shape == ():
            self.W = fd.VectorFunctionSpace(mesh, base, dim=self.B)
        else:
            self.W = fd.TensorFunctionSpace(mesh, base, shape=(self.B,) + tuple(V.value_shape))
        self.n_nodes = V.dim() // int(np.prod(V.value_shape, dtype=int))

    def sample(self, w, b: int):
        """Sample ``b`` of a batched Function/TestFunction/TrialFunction ``w``."""
        if self.V.value_shape == ():
            return w[b]
        return ufl.as_vector([w[b, i] for i in range(self.V.value_shape[0])])

    def set(self, f: fd.Function, x: torch.Tensor) -> None:
        """Write ``x`` of shape ``(B, V.dim())`` into the batched Function ``f``."""
        xv = x.detach().to("cpu", torch.float64).reshape((self.B, self.n_nodes) + tuple(self.V.value_shape))
        data = f.dat.data_wo
        data[...] = np.moveaxis(xv.numpy(), 0, 1).reshape(data.shape)

    def get(self, f) -> torch.Tensor:
        """Read a batched Function/Cofunction as ``(B, V.dim())``."""
        data = f.dat.data_ro.reshape((self.n_nodes, self.B) + tuple(self.V.value_shape))
        return torch.as_tensor(np.moveaxis(data, 1, 0).copy()).reshape(self.B, -1)
