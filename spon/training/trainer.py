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
from .distributed import all_reduce_sum, rank_and_world
from .samples import as_samples, pass_batch

__all__ = ["Trainer", "ResumeMismatch"]


class ResumeMismatch(ValueError):
    """A checkpoint to resume from was written for other data, ``n_train`` or settings."""


log = logging.getLogger(__name__)


class Trainer:
    """Fit ``model`` in the relative FE norm of its output space, over a ``DataLoader``.

    The data may be tensors, an :class:`~spon.data.FEDataset` streamed from HDF5,
    or any Dataset (see :func:`~spon.training.samples.as_samples`). Batches are
    drawn by a :class:`~torch.utils.data.distributed.DistributedSampler` (one
    replica when training alone), so a run on N ranks sees the same global
    batches as a run on one.

    Data-parallel: inside a ``torch.distributed`` process group (started by
    ``torchrun``, see :mod:`spon.training.distributed`) the model is wrapped in
    :class:`~torch.nn.parallel.DistributedDataParallel`; ``batch_size`` is the
    global batch, split evenly over the ranks; each rank evaluates the data and
    physics losses of its own share; rank 0 writes the checkpoints. With a
    number of training samples divisible by the number of ranks, the updates are
    those of one rank up to round-off (otherwise the sampler repeats a few samples
    to even out the shares). With partly labelled data, each rank averages the
    data term over its own labelled samples, so the shares weigh slightly differently.

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
    num_workers : DataLoader worker processes (each opens its own HDF5 handle)
    loss, metric : the training loss ``loss(pred, true)`` and the error metric (with
        ``relative_error``); by default the relative :class:`FELoss` and the
        :class:`FENorm` of the output space in ``norm``
    compile : compile the processor in place with ``torch.compile`` (its weights and ``state_dict``
        unchanged): about a minute of compilation, then SPON-MG steps about 1.4× as fast on two CPU
        cores (``python -m benchmarks run step_speed``)
    """

    def __init__(self, model, *, epochs: int = 50, batch_size: int = 16, lr: float = 1e-3,
                 weight_decay: float = 1e-4, optimizer: str = "adamw", scheduler: str | None = "onecycle",
                 norm: str = "L2", seed: int = 0, device="cpu", checkpoint_dir=None,
                 checkpoint_every: int = 10, progress: bool = True, desc: str = "training",
                 num_workers: int = 0, loss=None, metric=None, compile: bool = False):
        if optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer: expected 'adam' or 'adamw', got {optimizer!r}")
        if scheduler not in ("onecycle", "cosine", None):
            raise ValueError(f"scheduler: expected 'onecycle', 'cosine' or None, got {scheduler!r}")
        self.rank, self.world = rank_and_world()
        if batch_size < self.world or batch_size % self.world:
            raise ValueError(f"batch_size: expected a multiple of the {self.world} data-parallel ranks, "
                             f"got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers: expected 0 or more DataLoader workers, got {num_workers}")
        self.num_workers = num_workers
        torch.manual_seed(seed)
        self.model = model.to(device)
        if compile:
            model.processor.compile()
        self.device, self.epochs, self.batch_size, self.seed = torch.device(device), epochs, batch_size, seed
        dt = model.input_scale.dtype
        self.loss = (loss if loss is not None else FELoss(model.decoder.V, norm, relative=True)).to(device, dt)
        self.metric = (metric if metric is not None else FENorm(model.decoder.V, norm)).to(device, dt)
        opt_cls = torch.optim.AdamW if optimizer == "adamw" else torch.optim.Adam
        kw = {"weight_decay": weight_decay} if optimizer == "adamw" else {}
        self.optimizer = opt_cls([p for p in model.parameters() if p.requires_grad], lr=lr, **kw)
        self.scheduler_kind, self.lr = scheduler, lr
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_every, self.desc = checkpoint_every, desc
        self.progress = progress and self.rank == 0
        self.history = {"epoch": [], "train_loss": [], "test_rel": [], "seconds": []}

    @property
    def dtype(self):
        return self.model.input_scale.dtype

    def _to(self, t):
        return t.to(self.device, self.dtype)

    def _loader(self, samples, batch_size, shuffle, shard=True, reused=False):
        """``reused``: the loader serves every epoch, so its worker processes stay (one-off loaders
        for evaluation and statistics let theirs go at once)."""
        from torch.utils.data import DataLoader
        from torch.utils.data.distributed import DistributedSampler

        world, rank = (self.world, self.rank) if shard else (1, 0)
        sampler = DistributedSampler(samples, num_replicas=world, rank=rank, shuffle=shuffle, seed=self.seed,
                                     drop_last=False)
        return DataLoader(samples, batch_size=batch_size, sampler=sampler, collate_fn=pass_batch,
                          num_workers=self.num_workers, persistent_workers=reused and self.num_workers > 0,
                          pin_memory=self.device.type == "cuda")

    @torch.no_grad()
    def evaluate(self, data, outputs=None, batch_size: int = 64) -> torch.Tensor:
        """Relative FE-norm error per sample of ``data`` (or of tensors ``data, outputs``),
        on this rank alone."""
        samples = as_samples((data, outputs) if outputs is not None else data, dtype=self.dtype)
        errs = [self._errors(b) for b in self._loader(samples, batch_size, shuffle=False, shard=False)]
        return torch.cat(errs).cpu()

    def _errors(self, b):
        self.model.eval()
        dec = {k: self._to(v) for k, v in b["decoder"].items()}
        return self.metric.relative_error(self.model(self._to(b["x"]), **dec), self._to(b["y"]))

    def _share(self, samples):
        """This rank's every ``world``-th sample (for evaluation and statistics, not shuffled)."""
        return samples.subset(torch.arange(self.rank, len(samples), self.world))

    @torch.no_grad()
    def _test_mean(self, samples) -> float:
        """Mean test error, each rank evaluating every ``world``-th sample."""
        if len(samples) < self.world:
            raise ValueError(f"test: expected at least {self.world} samples (one per rank), got {len(samples)}")
        errs = self.evaluate(self._share(samples))
        tot = all_reduce_sum(torch.tensor([errs.sum().item(), float(len(errs))], dtype=torch.float64))
        return (tot[0] / tot[1]).item()

    @torch.no_grad()
    def _fit_scales(self, samples):
        mine = self._share(samples)
        probe = samples.__getitems__(list(range(min(32, len(samples)))))["x"]

        def batches():
            for b in self._loader(mine, 256, shuffle=False, shard=False):
                lab = b["labelled"]
                y = b["y"][lab] if b["y"] is not None and lab.any() else None
                yield self._to(b["x"]), None if y is None else self._to(y), self._to(b["x"][lab])

        self.model.fit_scales_streaming(batches(), self._to(probe), reduce=all_reduce_sum)

    def fit(self, train, test=None, *, physics=None, physics_weight: float = 1.0,
            data_weight: float = 1.0, labelled=None, output_scale: float | None = None,
            resume=None, callback=None, restore_best: bool = False) -> dict:
        """Train on ``train`` and report the FE-norm error on ``test``.

        ``train``/``test``: ``(inputs, outputs)`` or ``(inputs, outputs, decoder_data)``
        tensors, an :class:`FEDataset` (streamed), a ``Subset`` of one, or any Dataset
        of ``(x, y)`` / ``(x, y, decoder_data)`` items. ``decoder_data`` (a dict of
        per-sample tensors, such as boundary values ``g``) rides along with its batch
        and goes to the model as keyword arguments. The training outputs may be
        ``None`` when ``physics`` is given.

        Physics-informed and hybrid training: ``physics(pred, x)`` returns a per-sample
        loss ``(batch,)`` (for example a normalised :class:`~spon.physics.ResidualFunctional`);
        ``labelled`` (bool, one per training sample) says which outputs may be used
        as data; the loss is ``data_weight · data + physics_weight · physics``.
        Without labels, pass ``output_scale`` (a typical size of the solution).

        ``resume``: a ``last.pt`` written by an earlier, interrupted ``fit`` with the
        same model, data and settings (or what :meth:`read_resume` returned for it);
        it is refused if the data or ``n_train`` differ. Weights, optimiser, schedule
        and RNG states (CUDA's included) are restored, and training continues after
        the checkpoint's epoch; on the CPU the result is bit-identical to an
        uninterrupted run.

        ``callback(epoch, step, loss)`` is called after every optimiser step.

        ``restore_best``: end with the weights of the epoch whose error on ``test`` was lowest (then
        ``test`` is a validation split; ``history["best_epoch"]`` says which epoch, 0 for the weights
        training started from).
        """
        if restore_best and test is None:
            raise ValueError("restore_best: expected a validation split in test")
        samples = as_samples(train, labelled, dtype=self.dtype)
        test_samples = None if test is None else as_samples(test, dtype=self.dtype)
        if not samples.has_outputs and physics is None:
            raise ValueError("train: expected outputs, or a physics loss to train without them")
        if physics is None:  # data only: the unlabelled inputs have nothing to teach
            samples = samples.subset(samples.labelled)
        if len(samples) < self.world:
            raise ValueError(f"train: expected at least {self.world} samples (one per rank), got {len(samples)}")
        self._fit_scales(samples)
        if output_scale is not None:
            self.model.output_scale.fill_(float(output_scale))
        objective = HybridLoss(physics, self.loss, w_physics=physics_weight, w_data=data_weight)
        local_batch = self.batch_size // self.world
        loader = self._loader(samples, local_batch, shuffle=True, reused=True)
        steps = len(loader)
        if self.scheduler_kind == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, self.lr, total_steps=self.epochs * steps)
        elif self.scheduler_kind == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, self.epochs * steps)
        else:
            sched = None
        best, start = math.inf, 0
        data_id = {"n_train": len(samples), "data": samples.fingerprint}
        if resume is not None:
            start, best = self._restore(resume, sched, data_id)
        net = self._parallel()
        kept = None

        def snapshot():
            return {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if restore_best and start == 0:      # the start competes too: training must not end worse than it began
            best = min(best, self._test_mean(test_samples))
            self.history["initial_test_rel"] = best
            kept, self.history["best_epoch"] = snapshot(), 0
        t0 = time.perf_counter()
        bar = trange(start, self.epochs, desc=self.desc, disable=not self.progress,
                     initial=start, total=self.epochs)
        for epoch in bar:
            self.model.train()
            loader.sampler.set_epoch(epoch)
            total = torch.zeros(2, dtype=torch.float64)
            for step, b in enumerate(loader):
                x, lab = self._to(b["x"]), b["labelled"]
                dec = {k: self._to(v) for k, v in b["decoder"].items()}
                self.optimizer.zero_grad(set_to_none=True)
                pred = net(x, **dec)
                true = self._to(b["y"][lab]) if lab.any() else None
                loss = objective(pred, x, true=true, labelled=lab.to(pred.device))
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"training: loss became {loss.item()} at epoch {epoch}; "
                                             "lower the learning rate or check the data for NaN/Inf")
                loss.backward()
                self.optimizer.step()
                if sched is not None:
                    sched.step()
                total += torch.tensor([loss.item() * len(x), len(x)], dtype=torch.float64)
                if callback is not None:
                    callback(epoch, step, loss.item())
            total = all_reduce_sum(total)
            train_loss = (total[0] / total[1]).item()
            rel = self._test_mean(test_samples) if test is not None else math.nan
            self.history["epoch"].append(epoch + 1)
            self.history["train_loss"].append(train_loss)
            self.history["test_rel"].append(rel)
            self.history["seconds"].append(time.perf_counter() - t0)
            bar.set_postfix(loss=f"{train_loss:.2e}", test=f"{rel:.3e}")
            if self.checkpoint_dir is not None and self.rank == 0:
                if test is not None and rel < best:
                    best = rel
                    save_checkpoint(self.model, self.checkpoint_dir / "best.pt", epoch=epoch + 1, test_rel=rel)
                if (epoch + 1) % self.checkpoint_every == 0 or epoch + 1 == self.epochs:
                    save_checkpoint(self.model, self.checkpoint_dir / "last.pt", epoch=epoch + 1,
                                    optimizer=self.optimizer.state_dict(), history=self.history,
                                    scheduler=None if sched is None else sched.state_dict(),
                                    torch_rng=torch.get_rng_state(), best=best,
                                    cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                                    trainer={"epochs": self.epochs, "batch_size": self.batch_size,
                                             "seed": self.seed, "world_size": self.world, **data_id})
            elif test is not None and rel < best:
                best = rel
            if restore_best and rel <= best:
                kept, self.history["best_epoch"] = snapshot(), epoch + 1
        if kept is not None:
            self.model.load_state_dict(kept)
        log.info("trained %d epochs in %.1f s", self.epochs, time.perf_counter() - t0)
        return self.history

    def _parallel(self):
        """The model, wrapped for data-parallel training when there is more than one rank."""
        if self.world == 1:
            return self.model
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        with torch.no_grad():   # one set of weights on every rank; buffers (FE matrices, scales) agree already
            for p in self.model.parameters():
                dist.broadcast(p.data, 0)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=ids, forward_sync_buffers=False, init_sync=False)

    def read_resume(self, path) -> dict:
        """Load and check a ``last.pt`` for :meth:`fit`'s ``resume``: it must hold training
        state written by a model of the same spec with the same epochs, batch size and seed
        (:meth:`fit` then checks the data)."""
        from ..models.checkpoint import load_checkpoint

        _, ckpt = load_checkpoint(path, with_state=True)
        if "optimizer" not in ckpt or "torch_rng" not in ckpt:
            raise ValueError(f"resume: {path} holds no training state (expected a last.pt written by Trainer)")
        if ckpt.get("spec") != getattr(self.model, "spec", None):
            raise ResumeMismatch(f"resume: {path} was written by a model with another spec")
        want = {"epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed}
        got = {k: ckpt["trainer"].get(k) for k in want}
        if got != want:
            raise ResumeMismatch(f"resume: {path} was written with settings {got}, expected {want}")
        ckpt["path"] = str(path)
        return ckpt

    def _restore(self, resume, sched, data_id):
        ckpt = resume if isinstance(resume, dict) else self.read_resume(resume)
        where = ckpt.get("path", "the checkpoint")
        got = {k: ckpt["trainer"].get(k) for k in data_id}
        if got["n_train"] != data_id["n_train"]:
            raise ResumeMismatch(f"resume: {where} was trained on {got['n_train']} samples, "
                                 f"this run has {data_id['n_train']}")
        if got["data"] != data_id["data"]:
            raise ResumeMismatch(f"resume: {where} was trained on other data (fingerprint {got['data']}, "
                                 f"this run's is {data_id['data']}); pass the same dataset and split")
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if sched is not None:
            sched.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["torch_rng"])
        if ckpt.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        self.history = ckpt["history"]
        log.info("resumed from %s at epoch %d", where, ckpt["epoch"])
        return int(ckpt["epoch"]), float(ckpt["best"])
