"""``S = D ∘ P_θ ∘ E``: a structure-preserving operator network."""
from __future__ import annotations

from collections.abc import Sequence

import firedrake as fd
import torch
from torch import nn

from ..fem.decoders import Decoder
from ..fem.encoders import Encoder

__all__ = ["SPON"]


class SPON(nn.Module):
    """Encoder (fixed, from the input space), processor (learned), decoder (fixed,
    structure-preserving).

    ``forward`` takes a tensor on the encoder's input space, or a Function / list
    of Functions, and returns a tensor on the decoder's space; ``as_functions=True``
    returns Firedrake Functions. Extra arguments go to the decoder (for example
    per-sample boundary data ``g`` of a :class:`~spon.fem.DirichletDecoder`).

    ``input_scale`` divides the encoded vector before the processor; fit it with
    :meth:`fit_input_scale`.
    """

    def __init__(self, encoder: Encoder, processor: nn.Module, decoder: Decoder):
        super().__init__()
        if not isinstance(encoder, Encoder):
            raise TypeError(f"encoder: expected a spon Encoder, got {type(encoder).__name__}")
        if not isinstance(decoder, Decoder):
            raise TypeError(f"decoder: expected a spon Decoder, got {type(decoder).__name__}")
        self.encoder, self.processor, self.decoder = encoder, processor, decoder
        self.register_buffer("input_scale", torch.ones((), dtype=encoder.dtype))

    @torch.no_grad()
    def fit_input_scale(self, x: torch.Tensor) -> None:
        self.input_scale.fill_(self.encoder(x).std().item())

    def forward(self, x, *decoder_args, as_functions: bool = False, **decoder_kwargs):
        if isinstance(x, fd.Function) or (isinstance(x, Sequence) and x and isinstance(x[0], fd.Function)):
            z = self.encoder.encode(x)
        else:
            z = self.encoder(x)
        y = self.processor(z / self.input_scale)
        if y.shape[1:] != (self.decoder.in_dim,):
            raise ValueError(f"processor: expected outputs of shape (batch, {self.decoder.in_dim}) "
                             f"for the decoder, got {tuple(y.shape)}")
        out = self.decoder(y, *decoder_args, **decoder_kwargs)
        if as_functions:
            from ..fem.convert import to_functions
            return to_functions(out.detach(), self.decoder.V)
        return out
