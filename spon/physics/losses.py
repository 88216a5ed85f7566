"""Losses that mix data and physics."""
from __future__ import annotations

from torch import nn

__all__ = ["HybridLoss"]


class HybridLoss(nn.Module):
    """``w_data · mean(data_loss) + w_physics · mean(physics(u, *m))``.

    ``data_loss(pred, true)`` is e.g. :class:`~spon.fem.FELoss`; ``physics`` an
    :class:`~spon.physics.FEFunctional`. Samples without labels pass ``true=None``
    (their data term is skipped), so labelled and unlabelled batches mix.
    """

    def __init__(self, physics, data_loss=None, w_physics: float = 1.0, w_data: float = 1.0):
        super().__init__()
        if w_physics < 0 or w_data < 0:
            raise ValueError(f"w_physics, w_data: expected non-negative weights, got {w_physics}, {w_data}")
        self.physics, self.data_loss, self.w_physics, self.w_data = physics, data_loss, w_physics, w_data

    def forward(self, pred, *data, true=None):
        loss = self.w_physics * self.physics(pred, *data).mean()
        if true is not None:
            if self.data_loss is None:
                raise ValueError("true: labels given but the HybridLoss has no data_loss")
            loss = loss + self.w_data * self.data_loss(pred, true)
        return loss
