"""Crash safety: resume after SIGKILL is bit-identical; NaN stops cleanly; generation resumes."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from spon.data import DarcyProblem, FEDataset, generate_dataset
from spon.mesh import MeshSpec

TRAIN = r"""
import sys, time, torch
torch.set_num_threads(1)
from spon.data import FEDataset
from spon.models import build_spon
from spon.training import Trainer
data, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
ds = FEDataset(data)
spec = {"mesh": ds.meta["mesh"], "input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1},
        "encoder": "l2", "decoder": {"kind": "dirichlet"}, "dtype": "float64", "seed": 3,
        "processor": {"kind": "mlp", "width": 16}}
model = build_spon(spec)
tr = Trainer(model, epochs=6, batch_size=4, lr=3e-3, seed=5, checkpoint_dir=out, checkpoint_every=1,
             progress=False)
slow = (lambda e, s, l: time.sleep(0.02)) if mode == "slow" else None
tr.fit((ds.inputs, ds.outputs), resume=(out + "/last.pt") if mode == "resume" else None, callback=slow)
torch.save(model.state_dict(), out + "/final.pt")
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("crash")
    return str(generate_dataset(DarcyProblem(MeshSpec("unit_square", 0.25, 1)), 24, d / "d.h5", progress=False))


def _run(script, *args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(script), *args], env=env, **kw)


def _epoch(path):
    try:
        return torch.load(path, weights_only=False)["epoch"]
    except Exception:
        return 0


def test_resume_after_sigkill_is_bit_identical(tmp_path, dataset):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    ref, crash = tmp_path / "ref", tmp_path / "crash"
    ref.mkdir()
    crash.mkdir()
    assert _run(script, dataset, str(ref), "plain").wait(timeout=600) == 0

    p = _run(script, dataset, str(crash), "slow")
    deadline = time.time() + 600
    while _epoch(crash / "last.pt") < 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.07)  # into the next epoch (6 steps of ≥ 20 ms each)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL
    killed_at = _epoch(crash / "last.pt")
    assert 2 <= killed_at < 6 and not (crash / "final.pt").exists()
    assert not list(crash.glob("*.tmp"))  # the atomic writes left nothing half-written behind

    assert _run(script, dataset, str(crash), "resume").wait(timeout=600) == 0
    a, b = torch.load(ref / "final.pt"), torch.load(crash / "final.pt")
    for k in a:
        x, y = (a[k].to_dense(), b[k].to_dense()) if a[k].is_sparse else (a[k], b[k])
        assert torch.equal(x, y), k


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, dataset):
    from spon.models import build_spon, load_checkpoint
    from spon.training import Trainer
    ds = FEDataset(dataset)
    spec = {"mesh": ds.meta["mesh"], "input": {"family": "DG", "degree": 0},
            "output": {"family": "CG", "degree": 1}, "encoder": "l2", "decoder": {"kind": "dirichlet"},
            "processor": {"kind": "mlp", "width": 8}}
    calls = {"n": 0}

    def physics(pred, x):  # becomes NaN in the third epoch
        calls["n"] += 1
        bad = calls["n"] > 12
        return pred.pow(2).sum(1) * (float("nan") if bad else 1.0)

    tr = Trainer(build_spon(spec), epochs=5, batch_size=4, checkpoint_dir=tmp_path, checkpoint_every=1,
                 progress=False)
    with pytest.raises(FloatingPointError, match=r"training: loss became nan at epoch 2"):
        tr.fit((ds.inputs, ds.outputs), physics=physics)
    model, ckpt = load_checkpoint(tmp_path / "last.pt", with_state=True)
    assert ckpt["epoch"] == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_interrupted_generation_resumes_to_the_same_dataset(tmp_path):
    prob = DarcyProblem(MeshSpec("unit_square", 0.25, 1))
    ref = FEDataset(generate_dataset(prob, 10, tmp_path / "ref.h5", seed=4, progress=False, chunk=3))

    class Flaky:
        def __init__(self, inner, fail_after):
            self.inner, self.calls, self.fail_after = inner, 0, fail_after

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def solve(self, x, progress=True):
            self.calls += 1
            if self.calls > self.fail_after:
                raise KeyboardInterrupt("interrupted")
            return self.inner.solve(x, progress)

    with pytest.raises(KeyboardInterrupt):
        generate_dataset(Flaky(prob, 2), 10, tmp_path / "d.h5", seed=4, progress=False, chunk=3)
    assert not (tmp_path / "d.h5").exists() and (tmp_path / "d.h5.partial").exists()
    resumed = Flaky(prob, 10)
    ds = FEDataset(generate_dataset(resumed, 10, tmp_path / "d.h5", seed=4, progress=False, chunk=3))
    assert resumed.calls == 2  # 6 samples were already done: only 4 more, in two chunks
    assert torch.equal(ds.inputs, ref.inputs) and torch.equal(ds.outputs, ref.outputs)
    assert not (tmp_path / "d.h5.partial").exists()
