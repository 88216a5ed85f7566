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

    ``input_scale`` divides the encoded vector before the processor and
    ``output_scale`` multiplies the processor's output; fit them with
    :meth:`fit_scales` so the network works with unit-sized numbers.
    """

    def __init__(self, encoder: Encoder, processor: nn.Module, decoder: Decoder):
        super().__init__()
        if not isinstance(encoder, Encoder):
            raise TypeError(f"encoder: expected a spon Encoder, got {type(encoder).__name__}")
        if not isinstance(decoder, Decoder):
            raise TypeError(f"decoder: expected a spon Decoder, got {type(decoder).__name__}")
        # one dtype for the whole model: the encoder's (float64 unless moved)
        self.encoder, self.processor, self.decoder = encoder, processor.to(encoder.dtype), decoder
        self.register_buffer("input_scale", torch.ones((), dtype=encoder.dtype))
        self.register_buffer("output_scale", torch.ones((), dtype=encoder.dtype))

    @torch.no_grad()
    def fit_input_scale(self, x: torch.Tensor) -> None:
        self.input_scale.fill_(self.encoder(x).std().item())

    @torch.no_grad()
    def fit_scales(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        """Set ``input_scale`` from inputs ``x`` and ``output_scale`` from outputs ``y``.

        ``output_scale`` makes a unit processor output (all ones; white noise if
        the decoder maps ones to zero) decode to fields of the size of ``y``,
        whatever linear map the decoder applies.
        """
        self.fit_scales_streaming([(x, y)], probe=x[:32])

    @torch.no_grad()
    def fit_scales_streaming(self, batches, probe: torch.Tensor, reduce=None) -> None:
        """:meth:`fit_scales` from batches ``(x, y or None)`` that need not fit in memory; a batch whose
        ``y`` covers some rows only is ``(x, y, x_of_those_rows)``.

        ``probe``: a few inputs (the first 32 samples) to size a Green's decoder;
        ``reduce(t)`` sums a float64 tensor of statistics over data-parallel ranks.
        """
        d = self.decoder
        zero = torch.zeros(1, d.in_dim, dtype=self.output_scale.dtype, device=self.output_scale.device)
        base = d(zero).reshape(1, -1)
        # count, sum, sum of squares of E(x); count, Σ(y-lift)²; for a linear processor ⟨p, y-lift⟩, ⟨p, p⟩
        # with p = D(P(E x)) - lift, the untrained model's output at unit scales
        linear = getattr(self.processor, "scale_from_output", False)
        # a processor that can infer its operator from pairs (the linear multigrid) gets the least-squares
        # operator of the labelled pairs, and the output scale then equals the input scale
        infer = linear and getattr(self.processor, "hparams", {}).get("infer_operator", False)
        normal = None
        stats = torch.zeros(7, dtype=torch.float64)
        physical = getattr(self.processor, "physical_units", False)
        own = torch.zeros(2, dtype=torch.float64)        # the processor's own statistics (physical units)
        for x, y, *labelled_x in batches:      # (x, y) or (x, y, the inputs of y's rows) when y has fewer
            enc = self.encoder(x)
            e = enc.double().reshape(-1)
            stats[:3] += torch.stack([torch.tensor(float(e.numel())), e.sum().cpu(), e.pow(2).sum().cpu()])
            if physical:      # the processor's own statistics of the encoded fields (e.g. their RMS strain)
                own += self.processor.scale_statistics(enc)
            if y is not None:
                r = (y.reshape(len(y), -1) - base).double()
                stats[3:5] += torch.stack([torch.tensor(float(r.numel())), r.pow(2).sum().cpu()])
                if linear:
                    el = self.encoder(labelled_x[0]) if labelled_x else enc
                if infer:
                    eq = self.processor.operator_normal_equations(el.reshape(len(y), -1), r)
                    normal = eq if normal is None else tuple(a + b for a, b in zip(normal, eq))
                elif linear:
                    p = (d(self.processor(el)).reshape(len(y), -1) - base).double()
                    stats[5:] += torch.stack([(p * r).sum().cpu(), p.pow(2).sum().cpu()])
        if reduce is not None:
            stats = reduce(stats)
            own = reduce(own)
            if normal is not None:
                normal = tuple(reduce(t) for t in normal)
        if physical:
            # a processor that works on physical fields (a learned constitutive correction): unit scales
            self.input_scale.fill_(1.0)
            self.output_scale.fill_(1.0)
            self.processor.set_scales(own)
            return
        n, s, q, ny, qy, pr, pp = stats.tolist()
        if n < 2:
            raise ValueError("x: expected at least two input values to fit the input scale")
        self.input_scale.fill_((max(q - s * s / n, 0.0) / (n - 1)) ** 0.5)
        if ny == 0:
            return
        if normal is not None:
            self.processor.set_operator(*normal)
            self.output_scale.copy_(self.input_scale)
            return
        if linear and pp > 0:
            # a processor that starts as a solve (the linear multigrid): the least-squares scale of its own
            # output, so the untrained model is that solve at the data's scale
            self.output_scale.fill_(self.input_scale.item() * pr / pp)
            return
        if getattr(self.processor, "starts_as_identity", False):
            # the untrained model is the decoder applied to the encoded input itself (for a Green's
            # decoder, its linear solve): keep it so
            self.output_scale.copy_(self.input_scale)
            return
        gen = torch.Generator(device="cpu").manual_seed(0)
        unit = None
        probes = [torch.ones_like(zero), torch.randn(zero.shape, generator=gen, dtype=zero.dtype).to(zero.device)]
        encoded = self.encoder(probe).reshape(len(probe), -1) / self.input_scale
        if getattr(d, "interior", "values") != "values" and encoded.shape[1] == d.in_dim:
            # a Green's operator inside the decoder smooths a constant far less than a field like the
            # inputs: probe with the encoded inputs, so a processor near identity starts at the right size
            probes.insert(0, encoded)
        for p in probes:
            r = (d(p).reshape(len(p), -1) - base).pow(2).mean().sqrt().item()
            if r > 0:
                unit = r
                break
        target = (qy / ny) ** 0.5
        if not (unit and target > 0):
            raise ValueError("y: expected outputs that differ from the decoder's lift")
        self.output_scale.fill_(target / unit)

    def forward(self, x, *decoder_args, as_functions: bool = False, **decoder_kwargs):
        if isinstance(x, fd.Function) or (isinstance(x, Sequence) and x and isinstance(x[0], fd.Function)):
            z = self.encoder.encode(x)
        else:
            z = self.encoder(x)
        y = self.processor(z / self.input_scale) * self.output_scale
        if y.shape[1:] != (self.decoder.in_dim,):
            raise ValueError(f"processor: expected outputs of shape (batch, {self.decoder.in_dim}) "
                             f"for the decoder, got {tuple(y.shape)}")
        out = self.decoder(y, *decoder_args, **decoder_kwargs)
        if as_functions:
            from ..fem.convert import to_functions
            return to_functions(out.detach(), self.decoder.V)
        return out

    def on_spaces(self, U, V, bcs=None):
        """This trained model applied to data on ``U`` (any mesh of the domain), with
        predictions on ``V`` and the Dirichlet data of ``bcs`` exact there.

        The learned operator stays on its training mesh; see
        :class:`~spon.models.transfer.TransferredSPON`.
        """
        from .transfer import TransferredSPON
        return TransferredSPON(self, U, V, bcs)
