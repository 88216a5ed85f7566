"""PETSc matrices as torch sparse tensors, and batched products with them."""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["petsc_to_torch", "spmv", "diagonal"]


def petsc_to_torch(mat) -> torch.Tensor:
    """Copy an assembled (serial, AIJ) PETSc matrix into a coalesced float64 COO tensor."""
    mat = getattr(mat, "petscmat", mat)
    if mat.getType() not in ("seqaij", "mpiaij", "aij"):
        mat = mat.convert("aij")
    indptr, indices, data = mat.getValuesCSR()
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    idx = torch.as_tensor(np.stack([rows, indices]).astype(np.int64))
    vals = torch.as_tensor(np.asarray(data, dtype=np.float64))
    return torch.sparse_coo_tensor(idx, vals, mat.getSize(), is_coalesced=True,
                                   check_invariants=False)


def spmv(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Batched ``A @ x_b`` for flat ``x`` of shape ``(batch, n)``; differentiable in ``x``."""
    return torch.sparse.mm(A, x.mT).mT


def diagonal(A: torch.Tensor) -> torch.Tensor:
    """Diagonal of a sparse COO matrix as a dense vector."""
    idx, vals = A._indices(), A._values()
    on = idx[0] == idx[1]
    d = torch.zeros(A.shape[0], dtype=A.dtype, device=A.device)
    return d.index_add_(0, idx[0][on], vals[on])
