"""The FNO baseline (neuraloperator) on a regular grid, with its own published recipe, in one place.

One class serves scalar and vector fields, 2D and 3D, and masked domains: the
input's components, the grid coordinates and the domain mask go in as channels
on a regular grid over the bounding box (:class:`spon.fem.GridTransfer`), its
loss counts the grid points inside the domain only, and its predictions return
to the FE nodes by (bi/tri)linear interpolation.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from tqdm import trange

from spon.fem import GridTransfer

RECIPE = ("FNO's own (Li et al. 2021; neuraloperator's Darcy example): Adam lr 1e-3, weight decay 1e-4, "
          "the rate halved every epochs/5 epochs, batch 20, per-point Gaussian normalisation of input "
          "and output, relative L2 training loss on the grid inside the domain; inputs kappa, x, y (in "
          "[0, 1]) and the domain mask on a regular grid over the bounding box, 4 Fourier layers; scored in "
          "the FE L2 norm after bilinear interpolation of its grid output to the FE nodes")
RECIPE_3D = ("the FNO recipe of the Darcy benchmark on an n³ grid over the cube (kappa, x, y, z and the "
             "mask in, the solid's grid points in the loss), with the 3D setting of Li et al. 2021: 8 "
             "Fourier modes per direction, width 20, 4 layers")
SETTINGS = {"fno": {"n_modes": 16, "hidden_channels": 64}, "fno3d": {"n_modes": 8, "hidden_channels": 20}}
SEARCH = [{"n_modes": m, "hidden_channels": w} for m in (8, 12, 16) for w in (32, 64)]


class GridFNO:
    """FNO on ``grid`` with ``c_in`` input and ``c_out`` output components per node, 2D or 3D.

    ``grid`` samples the inputs and brings predictions to the output nodes; ``grid_out``, when the
    output space differs from the input's, samples the training targets (default ``grid``).
    """

    recipe = RECIPE

    def __init__(self, grid: GridTransfer, n_modes: int, hidden_channels: int, seed: int, c: int = 1,
                 c_in: int | None = None, grid_out: GridTransfer | None = None):
        from neuralop.models import FNO

        torch.manual_seed(seed)
        self.seed = seed
        self.c_in, self.c_out = c if c_in is None else c_in, c
        d = grid.dim
        self.net = FNO(n_modes=(n_modes,) * d, in_channels=self.c_in + d + 1, out_channels=self.c_out,
                       hidden_channels=hidden_channels, n_layers=4)
        self._set_grid(grid, grid_out or grid)
        self.params = sum(p.numel() for p in self.net.parameters())

    def _set_grid(self, grid, grid_out):
        self.grid, self.grid_out = grid, grid_out
        # coordinates in [0, 1] over the grid's box, as FNO's own positional channels are: a part measured
        # in mm (Cook's membrane, 0-48 x 0-60) would otherwise feed channels 50x the size of the others
        axes = [(a - a[0]) / (a[-1] - a[0]) for a in grid.axes]
        coords = np.meshgrid(*axes[::-1], indexing="ij")[::-1]             # x varies fastest, as the grid
        self.mask = grid.mask.float()
        self.const = torch.stack([*(torch.as_tensor(g).float() for g in coords), self.mask])

    def on_grid(self, grid: GridTransfer, grid_out: GridTransfer | None = None) -> "GridFNO":
        """This trained FNO sampling another mesh on ``grid`` (maybe finer: its zero-shot
        super-resolution). The per-point normalisers are resampled (bi/tri)linearly; the weights are shared."""
        import torch.nn.functional as F

        mode = "bilinear" if grid.dim == 2 else "trilinear"

        def up(t):
            return F.interpolate(t[None], size=(grid.n,) * grid.dim, mode=mode, align_corners=True)[0]

        other = copy.copy(self)
        other._set_grid(grid, grid_out or grid)
        other.f_mean, other.f_std, other.u_mean, other.u_std = (
            up(t) for t in (self.f_mean, self.f_std, self.u_mean, self.u_std))
        return other

    @staticmethod
    def _to_grid(grid, X, c):
        X = X.reshape(len(X), -1, c)
        return torch.stack([grid.to_grid_values(X[..., k].contiguous()) for k in range(c)], 1).float()

    def to_grid(self, X):
        return self._to_grid(self.grid, X, self.c_in)

    def from_grid(self, G):
        return torch.stack([self.grid.from_grid_values(G[:, k].double()) for k in range(self.c_out)],
                           -1).flatten(1)

    def _grid_out(self, X):
        f = (self.to_grid(X) - self.f_mean) / self.f_std
        x = torch.cat([f, self.const.expand(len(X), *self.const.shape)], dim=1)
        return self.net(x) * self.u_std + self.u_mean

    def fit(self, X, Y, epochs, batch=20, lr=1e-3, desc="fno", val=None):
        """``val``: ``(X, Y, error)``, a validation split and its error ``error(pred, Y)`` on the FE
        side; training ends with the weights of the best epoch (``history``: the curve)."""
        f, u = self.to_grid(X), self._to_grid(self.grid_out, Y, self.c_out)
        self.f_mean, self.f_std = f.mean(0), f.std(0) + 1e-5      # UnitGaussianNormalizer, eps 1e-5
        self.u_mean, self.u_std = u.mean(0), u.std(0) + 1e-5
        mask = self.mask

        def rel_l2(pred, true):                                    # LpLoss(d=2, p=2) inside the domain
            d = ((pred - true) * mask).flatten(1).norm(dim=1)
            return (d / (true * mask).flatten(1).norm(dim=1)).mean()

        opt = torch.optim.Adam(self.net.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, epochs // 5), gamma=0.5)
        gen = torch.Generator().manual_seed(self.seed)
        self.history, best, kept = {"epoch": [], "val_rel": []}, float("inf"), None
        for epoch in trange(epochs, desc=desc, leave=False):
            self.net.train()
            for idx in torch.randperm(len(X), generator=gen).split(batch):
                opt.zero_grad(set_to_none=True)
                rel_l2(self._grid_out(X[idx]), u[idx]).backward()
                opt.step()
            sched.step()
            if val is not None:
                err = val[2](self.predict(val[0]), val[1])
                self.history["epoch"].append(epoch + 1)
                self.history["val_rel"].append(err)
                if err <= best:
                    best, kept = err, copy.deepcopy(self.net.state_dict())    # neuralop keeps metadata there
                    self.history["best_epoch"] = epoch + 1
        if kept is not None:
            self.net.load_state_dict(kept)
        return self

    @torch.no_grad()
    def predict(self, X):
        self.net.eval()
        return torch.cat([self.from_grid(self._grid_out(x)) for x in X.split(64)])
