"""What the Trainer iterates: any training data as one torch Dataset of batches.

Tensor pairs, an :class:`~spon.data.FEDataset` (streamed from HDF5), a ``Subset``
of either, or any Dataset of ``(x, y)`` / ``(x, y, decoder_data)`` items become a
:class:`Samples`, whose batches are dicts ``{"x", "y", "labelled", "decoder"}``.
A ``DataLoader`` fetches a whole batch in one call (``__getitems__``), so an
HDF5 file is read once per batch and array, not once per row.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from ..hashing import content_hash

__all__ = ["Samples", "as_samples", "pass_batch"]


def pass_batch(batch):
    """The DataLoader's ``collate_fn``: :meth:`Samples.__getitems__` already stacked the batch."""
    return batch


class _Pairs:
    """In-memory ``(X, Y, decoder_data)``; ``Y`` may be ``None`` (physics-only training)."""

    def __init__(self, X, Y, decoder):
        self.X, self.Y, self.decoder = X, Y, decoder

    def __len__(self):
        return len(self.X)

    def read_batch(self, idx):
        idx = torch.as_tensor(idx)
        return (self.X[idx], None if self.Y is None else self.Y[idx],
                {k: v[idx] for k, v in self.decoder.items()})

    @property
    def fingerprint(self):
        arrays = (self.X, self.Y, *(self.decoder[k] for k in sorted(self.decoder)))
        return content_hash([t.detach().cpu().double().numpy() for t in arrays if t is not None])


class _Items:
    """Any Dataset of ``(x, y)`` or ``(x, y, decoder_data)`` items, stacked row by row."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def read_batch(self, idx):
        items = [self.ds[int(i)] for i in idx]
        dec = items[0][2] if len(items[0]) > 2 else {}
        return (torch.stack([it[0] for it in items]), torch.stack([it[1] for it in items]),
                {k: torch.stack([it[2][k] for it in items]) for k in dec})

    @property
    def fingerprint(self):
        h = hashlib.sha256()
        for i in range(0, len(self), 256):
            x, y, dec = self.read_batch(range(i, min(i + 256, len(self))))
            for t in (x, y, *(dec[k] for k in sorted(dec))):
                h.update(t.detach().cpu().double().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


class Samples(torch.utils.data.Dataset):
    """Rows ``index`` of a source, with a ``labelled`` flag per row."""

    def __init__(self, source, index=None, labelled=None, dtype=torch.float64):
        self.source, self.dtype = source, dtype
        self.index = torch.arange(len(source)) if index is None else torch.as_tensor(index, dtype=torch.long)
        n = len(self.index)
        if labelled is None:
            labelled = torch.full((n,), getattr(source, "Y", True) is not None, dtype=torch.bool)
        self.labelled = torch.as_tensor(labelled, dtype=torch.bool)
        if self.labelled.shape != (n,):
            raise ValueError(f"labelled: expected a bool tensor of shape ({n},), got {tuple(self.labelled.shape)}")

    def __len__(self):
        return len(self.index)

    @property
    def has_outputs(self) -> bool:
        return getattr(self.source, "Y", True) is not None

    def subset(self, keep: torch.Tensor) -> "Samples":
        return Samples(self.source, self.index[keep], self.labelled[keep], self.dtype)

    def __getitems__(self, positions):
        pos = torch.as_tensor(positions, dtype=torch.long)
        x, y, dec = self.source.read_batch(self.index[pos].numpy())
        cast = {"dtype": self.dtype}
        return {"x": x.to(**cast), "y": None if y is None else y.to(**cast), "labelled": self.labelled[pos],
                "decoder": {k: v.to(**cast) for k, v in dec.items()}}

    def __getitem__(self, i):
        return self.__getitems__([i])

    @property
    def fingerprint(self) -> str:
        """Which rows of which data: a resumed training checks it is given the same."""
        h = hashlib.sha256(str(self.source.fingerprint).encode())
        h.update(self.index.numpy().astype(np.int64).tobytes())
        h.update(self.labelled.numpy().tobytes())
        return h.hexdigest()[:16]


def as_samples(data, labelled=None, dtype=torch.float64) -> Samples:
    """``data``: ``(X, Y)`` or ``(X, Y, decoder_data)`` tensors, an FEDataset, a ``Subset``
    of one, or any Dataset of such items."""
    if isinstance(data, Samples):
        return data
    index = None
    while isinstance(data, torch.utils.data.Subset):   # keep the rows, read the file directly
        sub = torch.as_tensor(data.indices, dtype=torch.long)
        index = sub if index is None else sub[index]
        data = data.dataset
    if isinstance(data, (tuple, list)):
        if len(data) not in (2, 3):
            raise ValueError(f"data: expected (inputs, outputs) or (inputs, outputs, decoder_data), "
                             f"got a sequence of {len(data)}")
        X, Y = data[0], data[1]
        dec = dict(data[2]) if len(data) == 3 else {}
        if not isinstance(X, torch.Tensor) or X.dim() < 2:
            raise ValueError(f"inputs: expected a tensor of shape (n, dim), got {getattr(X, 'shape', X)}")
        for name, t in (("outputs", Y), *((f"decoder_data[{k!r}]", v) for k, v in dec.items())):
            if t is not None and (not isinstance(t, torch.Tensor) or len(t) != len(X)):
                raise ValueError(f"{name}: expected a tensor with {len(X)} samples (as inputs), "
                                 f"got {getattr(t, 'shape', t)}")
        source = _Pairs(X, Y, dec)
    elif hasattr(data, "read_batch"):
        source = data
    elif isinstance(data, torch.utils.data.Dataset):
        source = _Items(data)
    else:
        raise TypeError(f"data: expected tensors (inputs, outputs), an FEDataset or a torch Dataset, "
                        f"got {type(data).__name__}")
    return Samples(source, index, labelled, dtype)
