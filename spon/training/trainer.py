"""Training loop for operator models, with FE-norm losses and checkpoints."""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
from tqdm import trange

from ..fem.norms import FELoss, FENorm
from ..models.checkpoint import save_checkpoint
from ..physics.losses import HybridLoss

__all__ = ["Trainer"]

log = logging.getLogger(__name__)


class Trainer:
    """Fit ``model`` on ``(inputs, outputs)`` tensors in the relative FE norm of
    its output space.

    Parameters
    ----------
    model : SPON
    epochs, batch_size : int
    lr, weight_decay : AdamW settings (``optimizer="adam"`` ignores weight decay)
    scheduler : ``"onecycle"``, ``"cosine"`` or ``None``
    norm : ``"L2"``, ``"H1"`` or ``"H1_semi"`` for the loss and metric
    seed : seeds torch and the shuffling
    device : ``"cpu"``, ``"cuda"``, ...
    checkpoint_dir : writes ``last.pt`` every ``checkpoint_every`` epochs and
        ``best.pt`` whenever the test error improves (needs ``model.spec``)
    """

    def __init__(self, model, *, epochs: int = 50, batch_size: int = 16, lr: float = 1e-3,
                 weight_decay: float = 1e-4, optimizer: str = "adamw", scheduler: str | None = "onecycle",
                 norm: str = "L2", seed: int = 0, device="cpu", checkpoint_dir=None,
                 checkpoint_every: int = 10, progress: bool = True, desc: str = "training"):
        if optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer: expected 'adam' or 'adamw', got {optimizer!r}")
        if scheduler not in ("onecycle", "cosine", None):
            raise ValueError(f"scheduler: expected 'onecycle', 'cosine' or None, got {scheduler!r}")
        torch.manual_seed(seed)
        self.model = model.to(device)
        self.device, self.epochs, self.batch_size, self.seed = torch.device(device), epochs, batch_size, seed
        V = model.decoder.V
        self.loss = FELoss(V, norm, relative=True).to(device=device, dtype=model.input_scale.dtype)
        self.metric = FENorm(V, norm).to(device=device, dtype=model.input_scale.dtype)
        opt_cls = torch.optim.AdamW if optimizer == "adamw" else torch.optim.Adam
        kw = {"weight_decay": weight_decay} if optimizer == "adamw" else {}
        self.optimizer = opt_cls([p for p in model.parameters() if p.requires_grad], lr=lr, **kw)
        self.scheduler_kind, self.lr = scheduler, lr
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_every, self.progress, self.desc = checkpoint_every, progress, desc
        self.history = {"epoch": [], "train_loss": [], "test_rel": [], "seconds": []}

    def _to(self, t):
        return t.to(self.device, self.model.input_scale.dtype)

    @torch.no_grad()
    def evaluate(self, inputs, outputs, batch_size: int = 64) -> torch.Tensor:
        """Relative FE-norm error per sample."""
        self.model.eval()
        errs = [self.metric.relative_error(self.model(self._to(x)), self._to(y))
                for x, y in zip(inputs.split(batch_size), outputs.split(batch_size))]
        return torch.cat(errs).cpu()

    def fit(self, train, test=None, *, physics=None, physics_weight: float = 1.0,
            data_weight: float = 1.0, labelled=None, output_scale: float | None = None,
            resume=None, callback=None) -> dict:
        """Train on ``train`` and report the FE-norm error on ``test``.

        ``train``/``test`` are ``(inputs, outputs)`` tensor pairs or :class:`FEDataset`;
        the training outputs may be ``None`` when ``physics`` is given.

        Physics-informed and hybrid training: ``physics(pred, x)`` returns a per-sample
        loss ``(batch,)`` (for example a normalised :class:`~spon.physics.ResidualFunctional`);
        ``labelled`` (bool, one per training sample) says which outputs may be used
        as data; the loss is ``data_weight · data + physics_weight · physics``.
        Without labels, pass ``output_scale`` (a typical size of the solution).

        ``resume``: a ``last.pt`` written by an earlier, interrupted ``fit`` with the
        same model, data and settings (or what :meth:`read_resume` returned for it).
        Weights, optimiser, schedule, shuffling and RNG states are restored, and
        training continues after the checkpoint's epoch; on the CPU the result is
        bit-identical to an uninterrupted run.

        ``callback(epoch, step, loss)`` is called after every optimiser step.
        """
        Xtr, Ytr = (train.inputs, train.outputs) if hasattr(train, "inputs") else train
        if test is not None:
            Xte, Yte = (test.inputs, test.outputs) if hasattr(test, "inputs") else test
        if Ytr is None and physics is None:
            raise ValueError("train: expected outputs, or a physics loss to train without them")
        if labelled is None:
            labelled = torch.ones(len(Xtr), dtype=torch.bool) if Ytr is not None else torch.zeros(
                len(Xtr), dtype=torch.bool)
        labelled = torch.as_tensor(labelled, dtype=torch.bool)
        if labelled.shape != (len(Xtr),):
            raise ValueError(f"labelled: expected a bool tensor of shape ({len(Xtr)},), got {tuple(labelled.shape)}")
        if physics is None:  # data only: the unlabelled inputs have nothing to teach
            Xtr, Ytr, labelled = Xtr[labelled], Ytr[labelled], labelled[labelled]
        if labelled.any():
            self.model.fit_scales(self._to(Xtr), self._to(Ytr[labelled]))
        else:
            self.model.fit_scales(self._to(Xtr))
        if output_scale is not None:
            self.model.output_scale.fill_(float(output_scale))
        objective = HybridLoss(physics, self.loss, w_physics=physics_weight, w_data=data_weight)
        steps = math.ceil(len(Xtr) / self.batch_size)
        if self.scheduler_kind == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, self.lr, total_steps=self.epochs * steps)
        elif self.scheduler_kind == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, self.epochs * steps)
        else:
            sched = None
        gen = torch.Generator().manual_seed(self.seed)
        best, start = math.inf, 0
        if resume is not None:
            start, best = self._restore(resume, sched, gen)
        t0 = time.perf_counter()
        bar = trange(start, self.epochs, desc=self.desc, disable=not self.progress,
                     initial=start, total=self.epochs)
        for epoch in bar:
            self.model.train()
            total = 0.0
            for step, idx in enumerate(torch.randperm(len(Xtr), generator=gen).split(self.batch_size)):
                x, lab = self._to(Xtr[idx]), labelled[idx]
                self.optimizer.zero_grad(set_to_none=True)
                pred = self.model(x)
                true = self._to(Ytr[idx][lab]) if lab.any() else None
                loss = objective(pred, x, true=true, labelled=lab.to(pred.device))
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"training: loss became {loss.item()} at epoch {epoch}; "
                                             "lower the learning rate or check the data for NaN/Inf")
                loss.backward()
                self.optimizer.step()
                if sched is not None:
                    sched.step()
                total += loss.item() * len(idx)
                if callback is not None:
                    callback(epoch, step, loss.item())
            rel = self.evaluate(Xte, Yte).mean().item() if test is not None else math.nan
            self.history["epoch"].append(epoch + 1)
            self.history["train_loss"].append(total / len(Xtr))
            self.history["test_rel"].append(rel)
            self.history["seconds"].append(time.perf_counter() - t0)
            bar.set_postfix(loss=f"{total / len(Xtr):.2e}", test=f"{rel:.3e}")
            if self.checkpoint_dir is not None:
                if test is not None and rel < best:
                    best = rel
                    save_checkpoint(self.model, self.checkpoint_dir / "best.pt", epoch=epoch + 1, test_rel=rel)
                if (epoch + 1) % self.checkpoint_every == 0 or epoch + 1 == self.epochs:
                    save_checkpoint(self.model, self.checkpoint_dir / "last.pt", epoch=epoch + 1,
                                    optimizer=self.optimizer.state_dict(), history=self.history,
                                    scheduler=None if sched is None else sched.state_dict(),
                                    shuffle_rng=gen.get_state(), torch_rng=torch.get_rng_state(), best=best,
                                    trainer={"epochs": self.epochs, "batch_size": self.batch_size,
                                             "seed": self.seed, "n_train": len(Xtr)})
        log.info("trained %d epochs in %.1f s", self.epochs, time.perf_counter() - t0)
        return self.history

    def read_resume(self, path) -> dict:
        """Load and check a ``last.pt`` for :meth:`fit`'s ``resume``: it must hold training
        state written by a model of the same spec with the same epochs, batch size and seed."""
        from ..models.checkpoint import load_checkpoint

        _, ckpt = load_checkpoint(path, with_state=True)
        if "optimizer" not in ckpt or "shuffle_rng" not in ckpt:
            raise ValueError(f"resume: {path} holds no training state (expected a last.pt written by Trainer)")
        if ckpt.get("spec") != getattr(self.model, "spec", None):
            raise ValueError(f"resume: {path} was written by a model with another spec")
        want = {"epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed}
        got = {k: ckpt["trainer"][k] for k in want}
        if got != want:
            raise ValueError(f"resume: {path} was written with settings {got}, expected {want}")
        ckpt["path"] = str(path)
        return ckpt

    def _restore(self, resume, sched, gen):
        ckpt = resume if isinstance(resume, dict) else self.read_resume(resume)
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if sched is not None:
            sched.load_state_dict(ckpt["scheduler"])
        gen.set_state(ckpt["shuffle_rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        self.history = ckpt["history"]
        log.info("resumed from %s at epoch %d", ckpt["path"], ckpt["epoch"])
        return int(ckpt["epoch"]), float(ckpt["best"])
