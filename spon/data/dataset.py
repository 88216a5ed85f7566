"""FE datasets in HDF5: inputs, outputs and what is needed to rebuild their spaces.

Layout of a file::

    /inputs   (n, input dim)   float64, chunked by rows
    /outputs  (n, output dim)  float64, chunked by rows
    /decoder/<name> (n, ...)   optional per-sample decoder data (boundary values ``g``)
    attrs: spon_format, meta (JSON: problem, mesh spec, parameters, seed),
           input_dofs_hash, output_dofs_hash (fingerprints of DOF coordinates),
           content_hash (of the arrays, so a resumed training can tell its data)

Files are written to a temporary name and renamed, so a crash never leaves a
half-written dataset behind. :class:`FEDataset` reads rows lazily, so a file
larger than memory trains through a ``DataLoader``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path
from ..fem.checks import check_finite
from ..fem.layout import dof_coordinates
from ..fem.space_spec import space_spec
from ..hashing import content_hash

__all__ = ["dof_fingerprint", "write_dataset", "generate_dataset", "FEDataset"]

FORMAT = "spon-dataset-1"


def dof_fingerprint(V) -> str:
    """A hash of the DOF coordinates of ``V`` (of each part, for a mixed space):
    equal spaces in equal DOF order agree."""
    h = hashlib.sha256()
    for Vi in (V if len(V) > 1 else [V]):
        h.update(np.round(dof_coordinates(Vi), 10).tobytes())
    return h.hexdigest()[:16]


def _rows_per_chunk(dim: int) -> int:
    # about 64 KiB per chunk: one row of a large mesh, a few rows of a small one
    return max(1, 8192 // max(1, dim))


def write_dataset(path, inputs: torch.Tensor, outputs: torch.Tensor, meta: dict,
                  input_space=None, output_space=None, decoder_data: dict | None = None) -> Path:
    """Write an HDF5 dataset atomically.

    ``decoder_data``: per-sample tensors for the decoder, ``{"g": (n, ...)}``; a
    :class:`FEDataset` hands them to the model as keyword arguments.
    """
    import h5py

    path = Path(path)
    decoder_data = dict(decoder_data or {})
    named = [("inputs", inputs), ("outputs", outputs), *((f"decoder_data[{k!r}]", v) for k, v in decoder_data.items())]
    for name, t in named:
        if not isinstance(t, torch.Tensor) or t.dim() < 2:
            raise ValueError(f"{name}: expected a tensor of shape (n, dim), got {getattr(t, 'shape', t)}")
        check_finite(t, name)
        if t.shape[0] != inputs.shape[0]:
            raise ValueError(f"{name}: expected {inputs.shape[0]} samples (as inputs), got {t.shape[0]}")
    arrays = {"inputs": inputs.detach().cpu().double().reshape(inputs.shape[0], -1).numpy(),
              "outputs": outputs.detach().cpu().double().reshape(outputs.shape[0], -1).numpy()}
    arrays |= {f"decoder/{k}": v.detach().cpu().double().numpy() for k, v in sorted(decoder_data.items())}
    with atomic_path(path, ".h5.tmp") as tmp, h5py.File(tmp, "w") as f:
        for name, a in arrays.items():
            rows = _rows_per_chunk(int(np.prod(a.shape[1:])))
            f.create_dataset(name, data=a, chunks=(min(len(a), rows), *a.shape[1:]) if len(a) else None)
        f.attrs["content_hash"] = content_hash(arrays.values())
        f.attrs["spon_format"] = FORMAT
        f.attrs["meta"] = json.dumps(meta)
        if input_space is not None:
            f.attrs["input_dofs_hash"] = dof_fingerprint(input_space)
        if output_space is not None:
            f.attrs["output_dofs_hash"] = dof_fingerprint(output_space)
    return path


def generate_dataset(problem, n: int, path, seed: int = 0, progress: bool = True, chunk: int = 16) -> Path:
    """Sample ``n`` inputs, solve, and write them with the problem's metadata.

    Solutions are saved every ``chunk`` samples to ``<path>.partial``; if a run
    is interrupted, calling again with the same arguments skips the samples
    already solved (the inputs are re-drawn from the same seed and checked).
    The finished dataset is written atomically and the partial file removed.
    """
    import h5py

    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    x = problem.sample_inputs(n, seed=seed)
    meta = problem.metadata() | {"seed": seed, "n": n,
                                 "input_element": space_spec(problem.input_space),
                                 "output_element": space_spec(problem.output_space)}
    xs = x.detach().double().reshape(n, -1).numpy()
    done = 0
    if partial.exists():
        try:
            with h5py.File(partial, "r") as f:
                same = f.attrs["meta"] == json.dumps(meta) and np.array_equal(f["inputs"][...], xs)
                done = int(f.attrs["done"]) if same else 0
        except (OSError, KeyError):
            same = False
        if not same:
            partial.unlink()
            done = 0
    if done == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(partial, "w") as f:
            f.create_dataset("inputs", data=xs)
            f.create_dataset("outputs", shape=(n, problem.output_space.dim()), dtype="f8", fillvalue=np.nan)
            f.attrs["meta"] = json.dumps(meta)
            f.attrs["done"] = 0
    from tqdm import tqdm
    bar = tqdm(total=n, initial=done, desc=f"{problem.name} solves", disable=not progress)
    for start in range(done, n, chunk):
        y = problem.solve(x[start:start + chunk], progress=False)
        bar.update(len(y))
        with h5py.File(partial, "r+") as f:
            f["outputs"][start:start + len(y)] = y.numpy()
            f.attrs["done"] = start + len(y)
    bar.close()
    with h5py.File(partial, "r") as f:
        y = torch.as_tensor(f["outputs"][...])
    write_dataset(path, x, y, meta, problem.input_space, problem.output_space)
    partial.unlink()
    return path


class FEDataset(torch.utils.data.Dataset):
    """A dataset file as a torch Dataset of ``(input, output)`` pairs, read lazily.

    Rows are read from the HDF5 file when asked for, so datasets larger than
    memory train through a ``DataLoader`` (``num_workers > 0`` included: every
    worker process opens its own file handle). Each row is checked for NaN/Inf as
    it is read. Items are ``(x, y)``, or ``(x, y, decoder_data)`` when the file
    holds per-sample decoder data (see :func:`write_dataset`). The properties
    :attr:`inputs` and :attr:`outputs` read the whole array (convenient for small
    files; a streaming training never touches them).

    Parameters
    ----------
    path : str or Path
    dtype : torch dtype of the returned tensors (float64 by default).
    in_memory : read (and check) the whole file once, as before streaming existed.
    """

    def __init__(self, path, dtype=torch.float64, in_memory: bool = False):
        import h5py

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path: expected an spon HDF5 dataset, but {path} does not exist")
        self.path, self.dtype, self.in_memory = path, dtype, in_memory
        self._file, self._pid, self._cache = None, None, {}
        try:
            with h5py.File(path, "r") as f:
                if f.attrs.get("spon_format") != FORMAT:
                    raise ValueError(f"path: {path} is not an spon dataset (format "
                                     f"{f.attrs.get('spon_format')!r}, expected {FORMAT!r})")
                self.shapes = {"inputs": f["inputs"].shape, "outputs": f["outputs"].shape}
                self.decoder_keys = sorted(f["decoder"].keys()) if "decoder" in f else []
                if self.shapes["inputs"][0] != self.shapes["outputs"][0]:
                    raise ValueError(f"path: {path} holds {self.shapes['inputs'][0]} inputs but "
                                     f"{self.shapes['outputs'][0]} outputs")
                self.meta = json.loads(f.attrs["meta"])
                self.input_hash = f.attrs.get("input_dofs_hash")
                self.output_hash = f.attrs.get("output_dofs_hash")
                self._content_hash = f.attrs.get("content_hash")
                if in_memory:
                    for name in ("inputs", "outputs", *(f"decoder/{k}" for k in self.decoder_keys)):
                        self._cache[name] = t = torch.as_tensor(f[name][...], dtype=dtype)
                        check_finite(t, name)
        except (OSError, KeyError) as e:
            raise ValueError(f"path: {path} is not a readable spon dataset ({e})") from None

    def _h5(self):
        import h5py

        if self._file is None or self._pid != os.getpid():   # a forked DataLoader worker opens its own
            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._file

    def __getstate__(self):
        return {**self.__dict__, "_file": None, "_pid": None}

    def _read(self, name, index):
        if name in self._cache:
            return self._cache[name][index]
        t = torch.as_tensor(self._h5()[name][index], dtype=self.dtype)
        check_finite(t, f"{name} (of {self.path.name}, rows {index})")
        return t

    def _whole(self, name):
        return self._cache[name] if name in self._cache else self._read(name, slice(None))

    @property
    def inputs(self) -> torch.Tensor:
        """All inputs, read into memory."""
        return self._whole("inputs")

    @property
    def outputs(self) -> torch.Tensor:
        """All outputs, read into memory."""
        return self._whole("outputs")

    @property
    def fingerprint(self) -> str:
        """A hash of the file's arrays (stored at writing; computed by streaming for older files)."""
        if self._content_hash is None:
            f = self._h5()
            self._content_hash = content_hash([f["inputs"], f["outputs"],
                                               *(f[f"decoder/{k}"] for k in self.decoder_keys)])
        return str(self._content_hash)

    def __len__(self):
        return self.shapes["inputs"][0]

    def read_batch(self, indices):
        """``(x, y, decoder_data)`` for ``indices`` in one read per array (HDF5 wants them sorted)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"indices: expected rows in [0, {len(self)}), got {idx.min()}..{idx.max()}")
        order = np.argsort(idx, kind="stable")
        uniq, inverse = np.unique(idx[order], return_inverse=True)
        back = np.empty_like(order)
        back[order] = np.arange(len(order))

        def rows(name):
            if name in self._cache:
                return self._cache[name][torch.as_tensor(idx)]
            return self._read(name, uniq)[torch.as_tensor(inverse[back])]

        return rows("inputs"), rows("outputs"), {k: rows(f"decoder/{k}") for k in self.decoder_keys}

    def __getitem__(self, i):
        x, y = self._read("inputs", int(i)), self._read("outputs", int(i))
        if self.decoder_keys:
            return x, y, {k: self._read(f"decoder/{k}", int(i)) for k in self.decoder_keys}
        return x, y

    def check_spaces(self, input_space, output_space):
        """Raise unless the spaces have the DOFs (order included) the data were written with."""
        for name, V, h, which in (("input_space", input_space, self.input_hash, "inputs"),
                                  ("output_space", output_space, self.output_hash, "outputs")):
            if V.dim() != self.shapes[which][1]:
                raise ValueError(f"{name}: expected a space with {self.shapes[which][1]} DOFs "
                                 f"(as in {self.path}), got {V.dim()}")
            if h is not None and dof_fingerprint(V) != h:
                raise ValueError(f"{name}: its DOF coordinates differ from those {self.path} was written with")
