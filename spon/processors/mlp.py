"""The baseline processor: an MLP over the whole DOF vector."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLPProcessor"]

_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


class MLPProcessor(nn.Module):
    """``(batch, in_dim) -> (batch, out_dim)`` through ``depth`` hidden layers of ``width``
    (``depth=0``: one affine map, for a linear operator fitted in closed form).

    Examples
    --------
    >>> import torch
    >>> P = MLPProcessor(10, 4, width=8, depth=2)
    >>> P(torch.zeros(3, 10, dtype=torch.float64)).shape
    torch.Size([3, 4])
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 256, depth: int = 2,
                 activation: str = "gelu", dtype=torch.float64):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        for name, val in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
            if not (isinstance(val, int) and val >= (0 if name == "depth" else 1)):
                raise ValueError(f"{name}: expected a {'non-negative' if name == 'depth' else 'positive'} integer, "
                                 f"got {val!r}")
        self.hparams = dict(in_dim=in_dim, out_dim=out_dim, width=width, depth=depth, activation=activation)
        layers, d = [], in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, width, dtype=dtype), _ACTIVATIONS[activation]()]
            d = width
        layers.append(nn.Linear(d, out_dim, dtype=dtype))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.hparams["in_dim"]:
            raise ValueError(f"x: expected shape (batch, {self.hparams['in_dim']}), got {tuple(x.shape)}")
        return self.net(x)
