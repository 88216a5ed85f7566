"""Proper orthogonal decomposition of FE snapshots in a weighted (quadrature) inner product."""
from __future__ import annotations

import numpy as np

__all__ = ["pod"]

"""Component weights of Voigt stresses: ``σ:σ = σxx² + σyy² + 2σxy²``."""


def pod(X: np.ndarray, weights: np.ndarray, comp_weights=None, tol: float = 1e-8, n_max: int | None = None):
    """POD by the method of snapshots in the weighted inner product ``Σ_q w_q Σ_c k_c x_qc y_qc``.

    Returns ``T`` (k, S) with modes ``= T @ X`` (orthonormal), and the eigenvalues.
    ``k`` keeps a fraction ``1 - tol`` of the snapshot energy (at most ``n_max``).
    """
    S = X.shape[0]
    kc = np.ones(X.shape[-1]) if comp_weights is None else np.asarray(comp_weights)
    Xw = X * (weights[:, None] * kc)[None]
    K = Xw.reshape(S, -1) @ X.reshape(S, -1).T
    lam, V = np.linalg.eigh(K)
    lam, V = lam[::-1], V[:, ::-1]
    lam = np.clip(lam, 0, None)
    energy = np.cumsum(lam) / lam.sum()
    k = int(np.searchsorted(energy, 1 - tol) + 1)
    k = min(k, n_max or S, int(np.sum(lam > lam[0] * 1e-14)))
    return (V[:, :k] / np.sqrt(lam[:k])).T, lam
