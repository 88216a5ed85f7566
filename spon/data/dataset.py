"""FE datasets in HDF5: inputs, outputs and what is needed to rebuild their spaces.

Layout of a file::

    /inputs   (n, input dim)   float64
    /outputs  (n, output dim)  float64
    attrs: spon_format, meta (JSON: problem, mesh spec, parameters, seed),
           input_dofs_hash, output_dofs_hash (fingerprints of DOF coordinates)

Files are written to a temporary name and renamed, so a crash never leaves a
half-written dataset behind.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path
from ..fem.checks import check_finite
from ..fem.layout import dof_coordinates

__all__ = ["dof_fingerprint", "element_spec", "write_dataset", "generate_dataset", "FEDataset"]

FORMAT = "spon-dataset-1"


def dof_fingerprint(V) -> str:
    """A hash of the DOF coordinates of ``V``: equal spaces in equal DOF order agree."""
    X = dof_coordinates(V)
    return hashlib.sha256(np.round(X, 10).tobytes()).hexdigest()[:16]


def write_dataset(path, inputs: torch.Tensor, outputs: torch.Tensor, meta: dict,
                  input_space=None, output_space=None) -> Path:
    """Write an HDF5 dataset atomically."""
    import h5py

    path = Path(path)
    for name, t in (("inputs", inputs), ("outputs", outputs)):
        if not isinstance(t, torch.Tensor) or t.dim() < 2:
            raise ValueError(f"{name}: expected a tensor of shape (n, dim), got {getattr(t, 'shape', t)}")
        check_finite(t, name)
    if inputs.shape[0] != outputs.shape[0]:
        raise ValueError(f"outputs: expected {inputs.shape[0]} samples (as inputs), got {outputs.shape[0]}")
    with atomic_path(path, ".h5.tmp") as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("inputs", data=inputs.detach().cpu().double().reshape(inputs.shape[0], -1).numpy())
        f.create_dataset("outputs", data=outputs.detach().cpu().double().reshape(outputs.shape[0], -1).numpy())
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
                                 "input_element": element_spec(problem.input_space),
                                 "output_element": element_spec(problem.output_space)}
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


def element_spec(V) -> dict:
    """What a dataset records of a space's element: family, degree and value shape."""
    e = V.ufl_element()
    return {"family": e.family(), "degree": e.degree(), "value_shape": list(V.value_shape)}


class FEDataset(torch.utils.data.Dataset):
    """A dataset file as a torch Dataset of ``(input, output)`` pairs.

    Parameters
    ----------
    path : str or Path
    dtype : torch dtype of the returned tensors (float64 by default).
    """

    def __init__(self, path, dtype=torch.float64):
        import h5py

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path: expected an spon HDF5 dataset, but {path} does not exist")
        try:
            with h5py.File(path, "r") as f:
                if f.attrs.get("spon_format") != FORMAT:
                    raise ValueError(f"path: {path} is not an spon dataset (format "
                                     f"{f.attrs.get('spon_format')!r}, expected {FORMAT!r})")
                self.inputs = torch.as_tensor(f["inputs"][...], dtype=dtype)
                self.outputs = torch.as_tensor(f["outputs"][...], dtype=dtype)
                self.meta = json.loads(f.attrs["meta"])
                self.input_hash = f.attrs.get("input_dofs_hash")
                self.output_hash = f.attrs.get("output_dofs_hash")
        except (OSError, KeyError) as e:
            raise ValueError(f"path: {path} is not a readable spon dataset ({e})") from None
        check_finite(self.inputs, "inputs")
        check_finite(self.outputs, "outputs")
        self.path = path

    def __len__(self):
        return self.inputs.shape[0]

    def __getitem__(self, i):
        return self.inputs[i], self.outputs[i]

    def check_spaces(self, input_space, output_space):
        """Raise unless the spaces have the DOFs (order included) the data were written with."""
        for name, V, h in (("input_space", input_space, self.input_hash),
                           ("output_space", output_space, self.output_hash)):
            if V.dim() != (self.inputs if name == "input_space" else self.outputs).shape[1]:
                raise ValueError(f"{name}: expected a space with "
                                 f"{(self.inputs if name == 'input_space' else self.outputs).shape[1]} DOFs "
                                 f"(as in {self.path}), got {V.dim()}")
            if h is not None and dof_fingerprint(V) != h:
                raise ValueError(f"{name}: its DOF coordinates differ from those {self.path} was written with")
