"""Losses that mix data and physics."""
from __future__ import annotations

from torch import nn

__all__ = ["HybridLoss"]


class HybridLoss(nn.Module):
    """``w_data · data_loss(pred[labelled], true) + w_physics · mean(physics(pred, *data))``.

    ``data_loss(pred, true)`` is e.g. :class:`~spon.fem.FELoss`; ``physics`` an
    :class:`~spon.physics.FEFunctional` or any callable returning a per-sample
    loss. Either may be ``None``. ``true`` holds the labels of the samples
    that ``labelled`` (a bool mask over the batch, default: all) marks, so
    labelled and unlabelled samples mix in one batch; ``true=None`` skips the
    data term.
    """

    def __init__(self, physics=None, data_loss=None, w_physics: float = 1.0, w_data: float = 1.0):
        super().__init__()
        if w_physics < 0 or w_data < 0:
            raise ValueError(f"w_physics, w_data: expected non-negative weights, got {w_physics}, {w_data}")
        if physics is None and data_loss is None:
            raise ValueError("physics, data_loss: expected at least one of them")
        self.physics, self.data_loss, self.w_physics, self.w_data = physics, data_loss, w_physics, w_data

    def forward(self, pred, *data, true=None, labelled=None):
        loss = pred.new_zeros(())
        if true is not None:
            if self.data_loss is None:
                raise ValueError("true: labels given but the HybridLoss has no data_loss")
            loss = loss + self.w_data * self.data_loss(pred if labelled is None else pred[labelled], true)
        if self.physics is not None:
            loss = loss + self.w_physics * self.physics(pred, *data).mean()
        return loss
