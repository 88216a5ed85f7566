"""The least-squares operator: ridge regression from input DOFs to output DOFs, in closed form.

``y = ȳ + (x − x̄) W`` with ``W = V diag(s / (s² + α)) Uᵀ (Y − ȳ)`` from the SVD of the centred
training inputs (so inputs with many DOFs cost an SVD of an n × d matrix, n the number of
samples: the fit works on the inputs' POD coefficients). ``α`` is chosen on a validation
split of the training pairs (the last ``val_fraction``), then the fit is redone on all of
them. No test data are seen.
"""
from __future__ import annotations

import torch

RECIPE = ("ridge regression of the output DOFs on the input DOFs (centred, closed form by SVD), the "
          "regularisation chosen among 10^-12 … 10^2 (relative to the largest squared singular value) on the "
          "last 20 % of the training pairs, then refitted on all of them")


class LeastSquaresOperator:
    """The best linear (affine) map on the training pairs, ridge-regularised.

    Examples
    --------
    >>> X = torch.randn(50, 8, dtype=torch.float64)
    >>> A = torch.randn(8, 5, dtype=torch.float64)
    >>> op = LeastSquaresOperator().fit(X, X @ A, epochs=0)
    >>> bool(torch.allclose(op.predict(X[:3]), X[:3] @ A, atol=1e-6))
    True
    """

    recipe = RECIPE
    params = 0

    def __init__(self, alphas=tuple(10.0 ** k for k in range(-12, 3)), val_fraction: float = 0.2, error=None):
        self.alphas, self.val_fraction = tuple(alphas), float(val_fraction)
        self.error = error or (lambda P, Y: ((P - Y).norm(dim=1) / Y.norm(dim=1)).mean().item())

    @staticmethod
    def _solve(X, Y, alpha):
        xm, ym = X.mean(0), Y.mean(0)
        U, s, Vt = torch.linalg.svd(X - xm, full_matrices=False)
        a = alpha * float(s[0]) ** 2 if len(s) else 0.0
        W = Vt.T @ torch.diag(s / (s ** 2 + a)) @ (U.T @ (Y - ym))
        return xm, ym, W

    def fit(self, X, Y, epochs=0, desc="", val=None):
        """``val``: a separate validation split ``(X, Y)`` for ``α``; without it, the last
        ``val_fraction`` of the training pairs."""
        X, Y = X.double().reshape(len(X), -1), Y.double().reshape(len(Y), -1)
        if val is None:
            n_val = max(1, int(round(self.val_fraction * len(X))))
            Xt, Yt, Xv, Yv = X[:-n_val], Y[:-n_val], X[-n_val:], Y[-n_val:]
        else:
            Xt, Yt = X, Y
            Xv, Yv = (v.double().reshape(len(v), -1) for v in val)
        scores = {}
        for alpha in self.alphas:
            xm, ym, W = self._solve(Xt, Yt, alpha)
            scores[alpha] = self.error((Xv - xm) @ W + ym, Yv)
        self.alpha = min(scores, key=scores.get)
        self.validation = {f"{a:.0e}": s for a, s in scores.items()}
        self.xm, self.ym, self.W = self._solve(X, Y, self.alpha)
        self.params = int(self.W.numel() + self.ym.numel())
        return self

    @torch.no_grad()
    def predict(self, X):
        return (X.double().reshape(len(X), -1) - self.xm) @ self.W + self.ym


def zero_prediction(Y):
    """The zero operator's prediction (relative error 1 by definition): the floor every model must beat."""
    return torch.zeros_like(Y, dtype=torch.float64)


__all__ = ["LeastSquaresOperator", "zero_prediction", "RECIPE"]
