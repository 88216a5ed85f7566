"""A trained SPON applied to data on another mesh of its domain, without retraining.

The learned operator stays on the mesh it was trained on; only the maps at its
two ends change:

* the input, a Function on the user's space ``U`` (any mesh of the domain,
  nested or not), is brought onto the model's space by the model's own kind of
  encoder built from ``U``: the supermesh L² projection for ``l2``, moments
  ``∫ f φ_i dx`` against the model's basis for ``moments``, interpolation for
  ``interpolate`` and ``coefficients``. The same function then encodes to the
  same field, whatever mesh it came on;
* the prediction is interpolated into the user's output space ``V`` and, for a
  Dirichlet model, the boundary data of ``bcs`` on ``V`` are put back exactly
  (:class:`~spon.fem.DirichletDecoder` with the boundary lift), so the
  structure holds on the new mesh to round-off.
"""
from __future__ import annotations

import torch
from torch import nn

from ..fem import assembly
from ..fem.decoders import DirichletDecoder
from ..fem.encoders import (CoefficientEncoder, InterpolationEncoder, L2ProjectionEncoder, MomentEncoder)
from ..fem.sparse import spmv

__all__ = ["TransferredSPON"]


def _encoder_like(encoder, U):
    V = encoder.V
    if isinstance(encoder, L2ProjectionEncoder):
        return L2ProjectionEncoder(U, V)
    if isinstance(encoder, MomentEncoder):
        return MomentEncoder(U, V)
    if isinstance(encoder, (InterpolationEncoder, CoefficientEncoder)):
        return InterpolationEncoder(U, V)
    raise ValueError(f"model: no transfer for an encoder of kind {type(encoder).__name__}")


class TransferredSPON(nn.Module):
    """``model`` (a trained :class:`~spon.models.SPON`) acting from ``U`` to ``V``.

    Parameters
    ----------
    model : SPON
    U : the input space on the new mesh (the family of the model's input space)
    V : the output space on the new mesh; ``bcs`` its Dirichlet conditions
        (required when the model's decoder is a Dirichlet decoder)

    ``forward`` takes ``(batch, U.dim())`` and returns ``(batch, V.dim())``.
    """

    def __init__(self, model, U, V, bcs=None):
        super().__init__()
        if U.ufl_element() != model.encoder.U.ufl_element():
            raise ValueError(f"U: expected a space of the model's input element {model.encoder.U.ufl_element()}, "
                             f"got {U.ufl_element()}")
        if V.ufl_element() != model.decoder.V.ufl_element():
            raise ValueError(f"V: expected a space of the model's output element {model.decoder.V.ufl_element()}, "
                             f"got {V.ufl_element()}")
        self.model, self.U, self.V = model, U, V
        dtype, dev = model.input_scale.dtype, model.input_scale.device
        self.encoder = _encoder_like(model.encoder, U).to(device=dev, dtype=dtype)
        self.register_buffer("I", assembly.interpolation_matrix(model.decoder.V, V).to(device=dev, dtype=dtype))
        self.boundary = None
        if isinstance(model.decoder, DirichletDecoder):
            if not bcs:
                raise ValueError("bcs: the model keeps Dirichlet data exactly; give the DirichletBCs of V")
            self.boundary = DirichletDecoder(V, bcs, lifting="boundary").to(device=dev, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        z = self.encoder(x)
        y = m.decoder(m.processor(z / m.input_scale) * m.output_scale)
        u = spmv(self.I, y.reshape(len(y), -1))
        return u if self.boundary is None else self.boundary(u)
