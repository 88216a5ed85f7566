"""A processor that is the least-squares linear map on its training pairs, fitted in closed form."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["LeastSquaresProcessor"]


class LeastSquaresProcessor(nn.Module):
    """``y = ȳ + ((z − z̄) Bᵀ) C``: an affine map of rank at most ``rank``.

    ``B`` (``rank × in_dim``, orthonormal rows) spans the training latents' POD modes and ``C``
    (``rank × out_dim``) maps their coefficients to the outputs. :meth:`fit` sets all four from
    pairs ``(Z, T)`` in closed form, as ridge regression on the SVD ``Z − z̄ = U S Bᵀ``:
    ``C = diag(s / (s² + α s₀²)) Uᵀ (T − t̄)``. Storage is ``rank × (in_dim + out_dim)``, so a
    map between 10⁴-DOF fields learned from 10² pairs stays small. ``C`` is a parameter:
    a gradient step may fine-tune it.

    Examples
    --------
    >>> import torch
    >>> Z = torch.randn(30, 12, dtype=torch.float64)
    >>> A = torch.randn(12, 5, dtype=torch.float64)
    >>> P = LeastSquaresProcessor(12, 5, rank=30).fit(Z, Z @ A, alpha=0.0)
    >>> bool(torch.allclose(P(Z[:4]), Z[:4] @ A))
    True
    """

    def __init__(self, in_dim: int, out_dim: int, rank: int, dtype=torch.float64):
        super().__init__()
        for name, val in (("in_dim", in_dim), ("out_dim", out_dim), ("rank", rank)):
            if not (isinstance(val, int) and val >= 1):
                raise ValueError(f"{name}: expected a positive integer, got {val!r}")
        self.hparams = dict(rank=rank)
        self.in_dim, self.out_dim = in_dim, out_dim
        self.register_buffer("z_mean", torch.zeros(in_dim, dtype=dtype))
        self.register_buffer("y_mean", torch.zeros(out_dim, dtype=dtype))
        self.register_buffer("basis", torch.zeros(rank, in_dim, dtype=dtype))
        self.coupling = nn.Parameter(torch.zeros(rank, out_dim, dtype=dtype))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.in_dim:
            raise ValueError(f"z: expected shape (batch, {self.in_dim}), got {tuple(z.shape)}")
        return ((z - self.z_mean) @ self.basis.T) @ self.coupling + self.y_mean

    @torch.no_grad()
    def fit(self, Z: torch.Tensor, T: torch.Tensor, alpha: float = 0.0, affine: bool = True,
            tol: float = 1e-12) -> "LeastSquaresProcessor":
        """Set the map to the ridge solution on the pairs ``(Z[i], T[i])``.

        ``alpha`` is relative to the largest squared singular value; modes with ``s < tol·s₀``
        are dropped, and beyond ``rank`` modes the weakest ones. ``affine=False`` fits a
        linear map (no means). Returns ``self``.
        """
        Z, T = torch.as_tensor(Z), torch.as_tensor(T)
        if Z.dim() != 2 or Z.shape[1] != self.in_dim:
            raise ValueError(f"Z: expected shape (n, {self.in_dim}), got {tuple(Z.shape)}")
        if T.dim() != 2 or T.shape != (len(Z), self.out_dim):
            raise ValueError(f"T: expected shape ({len(Z)}, {self.out_dim}), got {tuple(T.shape)}")
        if not (torch.isfinite(Z).all() and torch.isfinite(T).all()):
            raise ValueError("Z, T: expected finite values, got NaN or inf")
        if not alpha >= 0:
            raise ValueError(f"alpha: expected a number >= 0, got {alpha!r}")
        dtype = self.basis.dtype
        Z, T = Z.to(dtype), T.to(dtype)
        zm = Z.mean(0) if affine else torch.zeros(self.in_dim, dtype=dtype)
        tm = T.mean(0) if affine else torch.zeros(self.out_dim, dtype=dtype)
        U, s, Bt = torch.linalg.svd(Z - zm, full_matrices=False)
        keep = int(min(self.hparams["rank"], int((s > tol * s[0]).sum()) if len(s) and s[0] > 0 else 0))
        C = torch.diag(s[:keep] / (s[:keep] ** 2 + alpha * s[0] ** 2)) @ (U[:, :keep].T @ (T - tm))
        self.z_mean.copy_(zm)
        self.y_mean.copy_(tm)
        self.basis.zero_()
        self.basis[:keep] = Bt[:keep]
        self.coupling.zero_()
        self.coupling[:keep] = C
        self.modes = keep
        return self
