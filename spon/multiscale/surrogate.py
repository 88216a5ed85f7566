"""Homogenised materials learned in torch: the common interface of EquiNO and the σ̄-MLP.

A :class:`Surrogate` maps a batch of Voigt strains ``ε̄`` to ``(σ̄, C̄ = dσ̄/dε̄)`` in
one call and refuses strains outside the box it was trained in.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["Surrogate", "StrainNorm", "mlp", "forward_with_jacobian", "phase_blocks"]


class StrainNorm(nn.Module):
    """Appends ``r = sqrt(|x|² + δ²)`` to the (box-scaled) strain ``x``.

    The matrix law's ``dev ε / (b + ‖dev ε‖)`` makes ``σ̄`` non-analytic at zero strain
    (a ``|ε| ε`` term); a Tanh network of ``x`` alone fits it poorly at small strains,
    one that also sees ``r`` does not. ``δ`` keeps ``r`` smooth, so tangents exist at 0.
    """

    def __init__(self, delta: float = 1e-6):
        super().__init__()
        self.delta = float(delta)

    def forward(self, x):
        return torch.cat([x, torch.sqrt((x**2).sum(1, keepdim=True) + self.delta**2)], dim=1)


def mlp(n_in, n_out, width, depth, strain_norm: bool = False):
    """``depth`` hidden Tanh layers of ``width``; smooth, so tangents are well defined.
    ``strain_norm`` puts :class:`StrainNorm` first (one more input)."""
    layers, d = ([StrainNorm()], n_in + 1) if strain_norm else ([], n_in)
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.Tanh()]
        d = width
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


def phase_blocks(phase: torch.Tensor, materials: dict):
    """The quadrature points grouped by phase: ``(order, [(material, slice), ...])``, so each material's law
    runs on one contiguous slice of ``x[:, order]`` (no gathers and scatters)."""
    if not materials:
        raise RuntimeError("materials: the constitutive loss needs the phase materials {id: law}")
    idx, blocks, start = [], [], 0
    for pid, mat in materials.items():
        i = (phase == pid).nonzero().squeeze(1)
        idx.append(i)
        blocks.append((mat, slice(start, start + len(i))))
        start += len(i)
    if start != len(phase):
        missing = sorted(set(phase.tolist()) - set(materials))
        raise ValueError(f"materials: no law for the quadrature points of phase(s) {missing}; "
                         f"got laws for {sorted(materials)}")
    return torch.cat(idx), blocks


def forward_with_jacobian(net: nn.Sequential, x: torch.Tensor):
    """``net(x)`` and ``d net / d x`` (B, out, in) by forward-mode chain rule through
    Linear/Tanh layers: one batched pass, no per-sample autograd."""
    J = torch.eye(x.shape[1], dtype=x.dtype, device=x.device).expand(x.shape[0], -1, -1)
    for layer in net:
        if isinstance(layer, nn.Linear):
            x = layer(x)
            J = torch.einsum("oi,bij->boj", layer.weight, J)
        elif isinstance(layer, nn.Tanh):
            x = torch.tanh(x)
            J = (1 - x**2)[:, :, None] * J
        elif isinstance(layer, StrainNorm):
            x = layer(x)
            J = torch.cat([J, torch.einsum("bi,bij->bj", x[:, :-1] / x[:, -1:], J)[:, None, :]], dim=1)
        else:
            raise TypeError(f"no forward Jacobian for {type(layer).__name__}")
    return x, J


class Surrogate(nn.Module):
    """A homogenised material ``ε̄ ↦ (σ̄, C̄)`` trained in the box ``[-box, box]³``.

    A subclass keeps what rebuilds it in ``self.meta`` (with ``kind``, its class
    name) and implements :meth:`from_meta`; checkpoints then round-trip it.
    """

    kinds: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Surrogate.kinds[cls.__name__] = cls

    @classmethod
    def from_meta(cls, meta: dict, materials: dict | None = None) -> "Surrogate":
        """An untrained model of the shape ``meta`` describes."""
        raise NotImplementedError

    def check_box(self, E: torch.Tensor, name: str = "strain", slack: float = 1e-9):
        if not isinstance(E, torch.Tensor) or E.ndim != 2 or E.shape[1] != 3:
            raise ValueError(f"{name}: expected a tensor of Voigt strains of shape (N, 3), got "
                             f"{getattr(E, 'shape', type(E).__name__)}")
        if E.dtype != self.box.dtype or E.device != self.box.device:
            raise TypeError(f"{name}: expected {self.box.dtype} on {self.box.device}, got {E.dtype} on {E.device}")
        if not torch.isfinite(E).all():
            raise ValueError(f"{name}: contains NaN or Inf")
        out = E.abs() > self.box * (1 + slack)
        if out.any():
            i = int(out.any(1).nonzero()[0])
            raise ValueError(f"{name}: {int(out.any(1).sum())} strain(s) lie outside the surrogate's training "
                             f"box [-{self.box[0].item():g}, {self.box[0].item():g}]^3, e.g. "
                             f"{E[i].tolist()}; refine the load steps or retrain on a larger box")

    def homogenised_stress(self, E: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def stress_and_tangent(self, E: torch.Tensor, strict: bool = True):
        """σ̄ (N, 3) and C̄ = dσ̄/dε̄ (N, 3, 3) by automatic differentiation, in one batched call."""
        if strict:
            self.check_box(E)
        return self._stress_and_tangent(E)

    def _stress_and_tangent(self, E):
        """Reverse mode per sample; subclasses override with one forward-mode pass."""
        def f(e):
            s = self.homogenised_stress(e[None])[0]
            return s, s

        C, s = torch.func.vmap(torch.func.jacrev(f, has_aux=True))(E)
        return s, C
