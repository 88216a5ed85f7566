"""Fitting a SPON whose processor is linear in closed form: no optimiser, no epochs."""
from __future__ import annotations

import torch

from ..fem.decoders import CoefficientDecoder, DirichletDecoder
from ..fem.norms import FENorm
from ..processors.least_squares import LeastSquaresProcessor

__all__ = ["fit_least_squares", "ALPHAS"]

ALPHAS = tuple(10.0 ** k for k in range(-12, 3))


def _latent_targets(model, Y):
    dec = model.decoder
    plain = type(dec) is CoefficientDecoder or (
        type(dec) is DirichletDecoder and dec.lifting == "boundary" and dec.interior == "values")
    if not plain:
        raise ValueError("model.decoder: fit_least_squares needs a decoder whose input is the output's own DOFs "
                         "(a 'coefficients' decoder, or a Dirichlet decoder with lifting 'boundary' and interior "
                         f"'values'), got {type(dec).__name__}")
    if Y.dim() != 2 or Y.shape[1] != dec.in_dim:
        raise ValueError(f"Y: expected shape (n, {dec.in_dim}) (the output space's DOFs), got {tuple(Y.shape)}")
    return Y


@torch.no_grad()
def fit_least_squares(model, X: torch.Tensor, Y: torch.Tensor, *, val=None, alphas=ALPHAS,
                      val_fraction: float = 0.2, affine: bool = True) -> dict:
    """Set ``model``'s :class:`~spon.processors.LeastSquaresProcessor` to the ridge fit of the
    encoded ``X`` to ``Y``, the regularisation chosen on a validation split, in the FE norm.

    ``val``: ``(X, Y)`` to choose ``α`` on; without it, the last ``val_fraction`` of the pairs
    (then the fit is redone on all of them). The model's scales are set to 1: a linear map
    carries its own. On the decoder's boundary the prediction is the decoder's data, whatever
    ``Y`` holds there. Returns ``{"alpha", "validation", "modes"}``.

    Examples
    --------
    >>> import torch
    >>> from spon.models import build_spon
    >>> from spon.mesh import MeshSpec
    >>> m = build_spon({"mesh": MeshSpec("unit_square", 0.5, 1).to_dict(),
    ...                 "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
    ...                 "encoder": "coefficients", "decoder": {"kind": "dirichlet", "value": 0.0},
    ...                 "processor": {"kind": "least_squares", "rank": 64}})
    >>> n = m.decoder.V.dim()
    >>> X = torch.randn(3 * n, n, dtype=torch.float64)
    >>> info = fit_least_squares(m, X, 2 * X)
    >>> inside = ~m.decoder.mask
    >>> bool(torch.allclose(m(X[:3])[:, inside], 2 * X[:3, inside])), info["modes"] == n
    (True, True)
    """
    proc = model.processor
    if not isinstance(proc, LeastSquaresProcessor):
        raise ValueError(f"model.processor: expected a LeastSquaresProcessor (kind 'least_squares'), "
                         f"got {type(proc).__name__}")
    dtype = model.input_scale.dtype
    X, Y = torch.as_tensor(X).to(dtype), torch.as_tensor(Y).to(dtype)
    if len(X) != len(Y) or len(X) < 2:
        raise ValueError(f"X, Y: expected the same number (>= 2) of samples, got {len(X)} and {len(Y)}")
    T = _latent_targets(model, Y)
    model.input_scale.fill_(1.0)
    model.output_scale.fill_(1.0)
    Z = model.encoder(X)
    norm = FENorm(model.decoder.V).to(dtype)
    if val is None:
        n_val = max(1, int(round(val_fraction * len(X))))
        fit_on, (Xv, Yv) = slice(0, len(X) - n_val), (X[-n_val:], Y[-n_val:])
    else:
        fit_on = slice(0, len(X))
        Xv, Yv = (torch.as_tensor(v).to(dtype) for v in val)
    scores = {}
    for alpha in alphas:
        proc.fit(Z[fit_on], T[fit_on], alpha, affine=affine)
        scores[alpha] = norm.relative_error(model(Xv), Yv).mean().item()
    best = min(scores, key=scores.get)
    proc.fit(Z, T, best, affine=affine)
    return {"alpha": best, "validation": {f"{a:.0e}": s for a, s in scores.items()}, "modes": proc.modes}
