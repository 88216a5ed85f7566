"""Solves: batched, differentiable SPD solves in torch, and the direct-solver options of Firedrake's."""
from __future__ import annotations

import torch

from .sparse import spmv

__all__ = ["spd_solve", "lu_parameters"]


def lu_parameters(**extra) -> dict:
    """PETSc options of a sparse direct solve (MUMPS LU), plus ``extra``; a new dict every call.

    >>> lu_parameters(mat_type="aij")["pc_factor_mat_solver_type"]
    'mumps'
    """
    return {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps", **extra}


def _pcg(A, dinv, b, rtol, maxiter):
    x = b * dinv
    r = b - spmv(A, x)
    z = r * dinv
    p = z.clone()
    rz = (r * z).sum(1, keepdim=True)
    bnorm = b.norm(dim=1, keepdim=True).clamp_min(torch.finfo(b.dtype).tiny)
    for _ in range(maxiter):
        if bool(((r.norm(dim=1, keepdim=True) / bnorm) <= rtol).all()):
            return x
        Ap = spmv(A, p)
        alpha = rz / (p * Ap).sum(1, keepdim=True).clamp_min(torch.finfo(b.dtype).tiny)
        x = x + alpha * p
        r = r - alpha * Ap
        z = r * dinv
        rz_new = (r * z).sum(1, keepdim=True)
        p = z + (rz_new / rz.clamp_min(torch.finfo(b.dtype).tiny)) * p
        rz = rz_new
    res = (r.norm(dim=1, keepdim=True) / bnorm).max().item()
    if res > max(rtol, 1e3 * torch.finfo(b.dtype).eps):
        raise RuntimeError(f"spd_solve: CG did not converge in {maxiter} iterations "
                           f"(relative residual {res:.2e})")
    return x


class _SPDSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, b, A, dinv, rtol, maxiter):
        ctx.save_for_backward(A, dinv)
        ctx.rtol, ctx.maxiter = rtol, maxiter
        return _pcg(A, dinv, b, rtol, maxiter)

    @staticmethod
    def backward(ctx, g):
        A, dinv = ctx.saved_tensors
        return _pcg(A, dinv, g, ctx.rtol, ctx.maxiter), None, None, None, None


def spd_solve(A: torch.Tensor, b: torch.Tensor, dinv: torch.Tensor | None = None,
              rtol: float | None = None, maxiter: int = 2000) -> torch.Tensor:
    """Solve ``A x_b = b_b`` for a batch ``b`` of shape ``(batch, n)``.

    Jacobi-preconditioned CG: well suited to FE mass matrices, whose Jacobi-
    scaled condition number does not grow under refinement. The backward pass
    is one more solve with ``A`` (symmetric), so gradients cost one solve.
    """
    if dinv is None:
        from .sparse import diagonal
        dinv = 1.0 / diagonal(A)
    if rtol is None:
        rtol = 10 * torch.finfo(b.dtype).eps
    return _SPDSolve.apply(b, A, dinv, rtol, maxiter)
