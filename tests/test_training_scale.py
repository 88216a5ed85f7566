"""Training at scale: streamed datasets equal in-memory ones, resume knows its data,
a memory-capped run streams a dataset larger than its cap, and 2 gloo ranks match 1."""
import json
import os
import subprocess
import sys

import pytest
import torch

from spon.data import DarcyProblem, FEDataset, generate_dataset, write_dataset
from spon.mesh import MeshSpec
from spon.models import build_spon
from spon.training import Trainer, as_samples

SPEC = {"input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1}, "encoder": "l2",
        "decoder": {"kind": "dirichlet"}, "dtype": "float64", "seed": 3,
        "processor": {"kind": "mg", "width": 8, "coarse_width": 16}}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Bit-for-bit comparisons with subprocesses need the same reduction order: one thread in both."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    d = tmp_path_factory.mktemp("scale")
    return FEDataset(generate_dataset(DarcyProblem(MeshSpec("unit_square", 0.25, 1)), 24, d / "d.h5",
                                      progress=False))


def _model(ds):
    return build_spon({"mesh": ds.meta["mesh"], **SPEC})


def _weights(model):
    """The learned and fitted state (dense tensors; the FE matrices are sparse and fixed)."""
    return {k: v for k, v in model.state_dict().items() if v.layout == torch.strided and v.is_floating_point()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _train(ds, data, **kw):
    model = _model(ds)
    Trainer(model, epochs=2, batch_size=4, lr=3e-3, seed=5, progress=False, **kw).fit(data)
    return _weights(model)


def test_streamed_rows_equal_in_memory_rows(tmp_path):
    g = torch.Generator().manual_seed(0)
    X, Y, G = (torch.randn(37, k, generator=g, dtype=torch.float64) for k in (5, 3, 2))
    meta = {"problem": "synthetic"}
    path = write_dataset(tmp_path / "s.h5", X, Y, meta, decoder_data={"g": G})
    lazy, mem = FEDataset(path), FEDataset(path, in_memory=True)
    assert torch.equal(lazy.inputs, X) and torch.equal(mem.outputs, Y)
    idx = [30, 2, 2, 17, 0]      # unsorted and repeated: HDF5 wants sorted, unique reads
    for ds in (lazy, mem):
        x, y, dec = ds.read_batch(idx)
        assert torch.equal(x, X[idx]) and torch.equal(y, Y[idx]) and torch.equal(dec["g"], G[idx])
        x1, y1, d1 = ds[7]
        assert torch.equal(x1, X[7]) and torch.equal(d1["g"], G[7])
    assert lazy.fingerprint == mem.fingerprint == FEDataset(write_dataset(tmp_path / "t.h5", X, Y, meta,
                                                                          decoder_data={"g": G})).fingerprint
    assert lazy.fingerprint != FEDataset(write_dataset(tmp_path / "u.h5", X, Y + 1e-12, meta)).fingerprint
    # through a DataLoader with worker processes, each with its own file handle
    loader = torch.utils.data.DataLoader(as_samples(lazy), batch_size=8, num_workers=2,
                                         collate_fn=lambda b: b)
    got = torch.cat([b["x"] for b in loader])
    assert torch.equal(got, X)


def test_streamed_training_equals_in_memory_training(darcy):
    ref = _train(darcy, (darcy.inputs, darcy.outputs))
    for kw in ({}, {"num_workers": 2}):
        got = _train(darcy, darcy, **kw)
        assert _same(ref, got), kw
    sub = torch.utils.data.Subset(darcy, list(range(3, 19)))
    ref = _train(darcy, (darcy.inputs[3:19], darcy.outputs[3:19]))
    got = _train(darcy, sub)
    assert _same(ref, got)


def test_resume_refuses_other_data(darcy, tmp_path):
    model = _model(darcy)
    Trainer(model, epochs=2, batch_size=4, seed=5, progress=False, checkpoint_dir=tmp_path,
            checkpoint_every=1).fit(darcy)
    tr = Trainer(_model(darcy), epochs=2, batch_size=4, seed=5, progress=False)
    resume = tr.read_resume(tmp_path / "last.pt")
    with pytest.raises(ValueError, match="trained on 24 samples, this run has 20"):
        tr.fit(torch.utils.data.Subset(darcy, range(20)), resume=resume)
    other = (darcy.inputs.flip(0), darcy.outputs.flip(0))
    with pytest.raises(ValueError, match="trained on other data"):
        tr.fit(other, resume=resume)
    hist = tr.fit((darcy.inputs, darcy.outputs), resume=resume)   # the same rows as tensors: accepted
    assert hist["epoch"] == [1, 2]


CAPPED = r"""
import json, resource, sys, torch
torch.set_num_threads(1)
from spon.data import FEDataset
from spon.models import build_spon
from spon.training import Trainer
path, spec, cap, out = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ds = FEDataset(path)
model = build_spon(spec)
init = {k: v.clone() for k, v in model.state_dict().items()}
# warm up: the training's own working set (graphs, activations, Adam state) is allowed, the data is not
Trainer(model, epochs=1, batch_size=256, seed=5, progress=False).fit(torch.utils.data.Subset(ds, range(512)))
model.load_state_dict(init)
vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + cap, vm + cap))
Trainer(model, epochs=1, batch_size=256, seed=5, progress=False).fit(ds)
try:   # the cap binds: the whole file does not fit under it
    FEDataset(path, in_memory=True)
    print("in-memory read fit under the cap")
    sys.exit(3)
except MemoryError:
    pass
torch.save({k: v for k, v in model.state_dict().items() if v.layout == torch.strided and v.is_floating_point()},
           out)
"""


def test_memory_capped_run_streams_a_dataset_three_times_its_cap(darcy, tmp_path):
    cap = 32 << 20
    reps = 3 * cap // (len(darcy) * 8 * (darcy.shapes["inputs"][1] + darcy.shapes["outputs"][1])) + 1
    X, Y = darcy.inputs.repeat(reps, 1), darcy.outputs.repeat(reps, 1)
    path = write_dataset(tmp_path / "big.h5", X, Y, darcy.meta)
    assert path.stat().st_size > 3 * cap
    spec = {"mesh": darcy.meta["mesh"], **SPEC, "processor": {"kind": "mlp", "width": 16}}   # I/O, not flops
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", CAPPED, str(path), json.dumps(spec), str(cap), str(tmp_path / "w.pt")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    model = build_spon(spec)
    Trainer(model, epochs=1, batch_size=256, seed=5, progress=False).fit((X, Y))
    assert _same(_weights(model), torch.load(tmp_path / "w.pt"))


DDP = r"""
import json, sys, torch
torch.set_num_threads(1)
from spon.data import FEDataset
from spon.models import build_spon
from spon.training import Trainer, fe_comm, init_from_env
path, spec, out, kind = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
rank, world, device = init_from_env("cpu")
ds = FEDataset(path)
model = build_spon(spec, comm=fe_comm())
assert model.decoder.V.mesh().comm.size == 1    # each rank assembles its own FE matrices
physics = None
if kind == "physics":   # each rank evaluates the Firedrake residual of its own share of the batch
    import firedrake as fd
    from spon.physics import ResidualFunctional
    V, K = model.decoder.V, model.encoder.U
    R = ResidualFunctional(V, lambda u, v, k: k * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - v * fd.dx,
                           bcs=[fd.DirichletBC(V, 0.0, "on_boundary")], norm="L2_preconditioned", data_spaces=[K])
    physics = lambda pred, k: R(pred, k) * 1e4
tr = Trainer(model, epochs=1, batch_size=8, lr=3e-3, seed=5, progress=False, checkpoint_dir=out + "/ckpt")
hist = tr.fit(torch.utils.data.Subset(ds, range(16)), torch.utils.data.Subset(ds, range(16, 24)),
              physics=physics)   # hybrid: every sample labelled, plus the residual
if rank == 0:
    state = {k: v for k, v in model.state_dict().items() if v.layout == torch.strided and v.is_floating_point()}
    torch.save({"state": state, "hist": hist, "world": world}, out + "/w.pt")
"""


@pytest.mark.parametrize("loss", ["data", "physics"])
def test_two_gloo_ranks_match_one(darcy, tmp_path, loss):
    spec = {"mesh": darcy.meta["mesh"], **SPEC}
    script = tmp_path / "ddp.py"
    script.write_text(DDP)
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"n{n}"
        out.mkdir()
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}", str(script),
               "--", str(darcy.path), json.dumps(spec), str(out), loss]
        r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                           timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
        runs[n] = torch.load(out / "w.pt")
        assert runs[n]["world"] == n and (out / "ckpt" / "last.pt").is_file()
        assert not list((out / "ckpt").glob("*.tmp"))
    a, b = runs[1]["state"], runs[2]["state"]
    init = _weights(build_spon(spec))
    moved = sum((a[k] - init[k]).pow(2).sum() for k in a if a[k].is_floating_point())
    num = sum((a[k] - b[k]).pow(2).sum() for k in a if a[k].is_floating_point())
    den = sum(a[k].pow(2).sum() for k in a if a[k].is_floating_point())
    assert moved > 0 and (num / den).sqrt() < 1e-10
    assert runs[2]["hist"]["test_rel"][0] == pytest.approx(runs[1]["hist"]["test_rel"][0], rel=1e-10)
    assert runs[2]["hist"]["train_loss"][0] == pytest.approx(runs[1]["hist"]["train_loss"][0], rel=1e-10)


TORCH_ONLY = r"""
import importlib.abc, sys
from spon.portable import FE_STACK


class NoFE(importlib.abc.MetaPathFinder):   # this process plays a GPU node without Firedrake
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in FE_STACK:
            raise ImportError(f"no {name} here")


sys.meta_path.insert(0, NoFE())
import torch
torch.set_num_threads(1)
from spon.portable import load_portable
b = load_portable(sys.argv[1])
from spon.training import Trainer
assert getattr(sys.modules["firedrake"], "__file__", None) is None      # a stub, not Firedrake
tr = Trainer(b["model"], epochs=2, batch_size=4, seed=5, progress=False, loss=b["loss"], metric=b["metric"])
hist = tr.fit((b["x"], b["y"]), (b["x"][:4], b["y"][:4]))
torch.save({"hist": hist, "state": {k: v for k, v in b["model"].state_dict().items() if v.layout == torch.strided}},
           sys.argv[2])
"""


def test_exported_model_trains_without_the_fe_stack(darcy, tmp_path):
    """The GPU-node path: every FE buffer travels with the modules, Firedrake stays behind."""
    from spon.fem import FELoss, FENorm
    from spon.portable import save_portable
    model = _model(darcy)
    V = model.decoder.V
    save_portable(tmp_path / "bundle.pt", model=model, loss=FELoss(V, "L2", relative=True), metric=FENorm(V),
                  x=darcy.inputs, y=darcy.outputs)
    assert model.decoder.V is V          # the model keeps its spaces
    r = subprocess.run([sys.executable, "-c", TORCH_ONLY, str(tmp_path / "bundle.pt"), str(tmp_path / "w.pt")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    hist = Trainer(model, epochs=2, batch_size=4, seed=5, progress=False).fit(
        (darcy.inputs, darcy.outputs), (darcy.inputs[:4], darcy.outputs[:4]))
    got = torch.load(tmp_path / "w.pt")
    assert _same(_weights(model), {k: v for k, v in got["state"].items() if k in _weights(model)})
    assert got["hist"]["test_rel"] == hist["test_rel"]


def test_every_fe_tensor_is_a_registered_buffer(darcy):
    """``.to(device)`` moves registered buffers only: no module may keep a tensor elsewhere."""
    from spon.fem import FELoss, FENorm
    model = _model(darcy)
    internal = set(vars(torch.nn.Module())) | {"_float64_originals"}
    for top in (model, FELoss(model.decoder.V, "H1", relative=True), FENorm(model.decoder.V)):
        for name, m in top.named_modules():
            registered = {id(t) for t in [*m._buffers.values(), *m._parameters.values()]}
            for k, v in vars(m).items():
                vals = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else [v]
                if k in internal:
                    continue
                stray = [t for t in vals if isinstance(t, torch.Tensor) and id(t) not in registered]
                assert not stray, f"{type(top).__name__}.{name}.{k} holds a tensor that .to() would not move"
    moved = model.to(torch.float32)
    assert all(b.dtype == torch.float32 for b in moved.buffers() if b.is_floating_point())


def test_per_sample_boundary_values_ride_along_with_their_batch(darcy, tmp_path):
    """Decoder data in the file reach the model: predictions take each sample's own g."""
    model = _model(darcy)
    bnd = model.decoder.boundary_dofs
    g = torch.randn(len(darcy), len(bnd), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    Y = darcy.outputs.clone()
    Y[:, bnd] = g
    path = write_dataset(tmp_path / "g.h5", darcy.inputs, Y, darcy.meta, decoder_data={"g": g})
    ds = FEDataset(path)
    tr = Trainer(model, epochs=1, batch_size=4, seed=5, progress=False)
    tr.fit(ds)
    errs = tr.evaluate(ds)
    with torch.no_grad():
        pred = model(ds.inputs, g=g)
        assert torch.equal(pred[:, bnd], g)
        assert torch.allclose(errs, tr.metric.relative_error(pred, Y), rtol=1e-12)
        assert not torch.allclose(errs, tr.metric.relative_error(model(ds.inputs), Y), rtol=1e-3)


def test_spon_train_nproc_2_starts_two_ranks(darcy, tmp_path):
    from spon.cli import main
    out = tmp_path / "t"
    assert main(["train", "--data", str(darcy.path), "--processor", "mg", "--width", "4", "--epochs", "1",
                 "--batch-size", "4", "--nproc", "2", "--out", str(out)]) == 0
    assert (out / "last.pt").is_file() and json.loads((out / "history.json").read_text())["epoch"] == [1]
    assert main(["train", "--data", str(darcy.path), "--batch-size", "3", "--nproc", "2",
                 "--out", str(out)]) == 2


def test_a_processor_that_starts_as_identity_keeps_the_untrained_model_the_input(darcy):
    """fit_scales reads the processor's promise, whatever the decoder: S(x) = D(E(x)) before training."""
    spec = {"mesh": darcy.meta["mesh"], "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
            "encoder": "l2", "decoder": {"kind": "dirichlet", "value": 0.0}, "dtype": "float64",
            "processor": {"kind": "mg", "width": 4, "coarse_width": 4, "coarse_layers": 1, "linear_skip": True}}
    model = build_spon(spec)
    assert model.processor.starts_as_identity
    V = model.decoder.V
    x = torch.randn(6, V.dim(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x[:, model.decoder.boundary_dofs] = 0
    model.fit_scales(x, 3 * x)
    with torch.no_grad():
        assert torch.allclose(model(x), x, atol=1e-12)
    assert not build_spon({**spec, "processor": {"kind": "mg", "width": 4, "coarse_width": 4,
                                                 "coarse_layers": 1}}).processor.starts_as_identity
