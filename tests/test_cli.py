"""The `spon` command line: help, config files with flag overrides, exit codes, a full round."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spon.cli import main


def test_help_lists_every_command():
    r = subprocess.run([sys.executable, "-m", "spon.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    for cmd in ("demo", "datagen", "train", "evaluate", "fe2"):
        assert cmd in r.stdout


@pytest.mark.parametrize("cmd,option", [("datagen", "--refinements"), ("train", "--test-fraction"),
                                        ("evaluate", "--checkpoint"), ("demo", "NAME")])
def test_subcommand_help(cmd, option, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert option in capsys.readouterr().out


def _spon_exe():
    exe = shutil.which("spon", path=str(Path(sys.executable).parent))
    assert exe is not None, "the spon console script is not installed next to this python"
    return exe


def test_help_answers_in_under_a_second():
    """Help and usage errors import neither Firedrake nor torch."""
    exe = _spon_exe()
    subprocess.run([exe, "--help"], capture_output=True, timeout=60)   # warm the file cache
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
        best = min(best, time.perf_counter() - t0)
        assert r.returncode == 0 and "datagen" in r.stdout
    assert best < 1.0, f"spon --help took {best:.2f} s"
    t0 = time.perf_counter()
    r = subprocess.run([exe, "train", "--epochs", "x"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid int value" in r.stderr
    assert time.perf_counter() - t0 < 1.0


def test_importing_spon_leaves_firedrake_and_petsc_options_alone():
    env = {k: v for k, v in os.environ.items() if k != "PETSC_OPTIONS"}
    code = ("import os, sys, spon; assert 'firedrake' not in sys.modules and 'torch' not in sys.modules; "
            "assert 'PETSC_OPTIONS' not in os.environ; print(spon.__version__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == __import__("spon").__version__


def test_console_script_is_installed():
    r = subprocess.run([_spon_exe(), "fe2"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--surrogate: required" in r.stderr


def test_datagen_train_evaluate_round(tmp_path, capsys):
    cfg = tmp_path / "gen.toml"
    cfg.write_text('problem = "darcy"\nh = 0.3\nrefinements = 1\nn = 50\n')
    # the flag overrides the file
    assert main(["datagen", "--config", str(cfg), "--n", "12", "--out", str(tmp_path / "data")]) == 0
    saved = json.loads((tmp_path / "data" / "config.json").read_text())
    assert saved["n"] == 12 and saved["h"] == 0.3
    data = str(tmp_path / "data" / "dataset.h5")
    assert main(["train", "--data", data, "--processor", "mlp", "--width", "8", "--epochs", "2",
                 "--out", str(tmp_path / "train")]) == 0
    assert (tmp_path / "train" / "best.pt").is_file() and (tmp_path / "train" / "history.json").is_file()
    assert main(["evaluate", "--checkpoint", str(tmp_path / "train" / "last.pt"), "--data", data,
                 "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n"] == 12 and metrics["max_boundary_error"] == 0.0
    assert (tmp_path / "eval" / "worst_sample.png").is_file()
    from spon.fem import load_functions
    preds = load_functions(tmp_path / "eval" / "predictions.h5", name="prediction")
    assert len(preds) == 12 and all(abs(float(f.dat.data_ro.max())) > 0 for f in preds)


def _round(tmp_path, *problem, h="0.3"):
    """datagen (8 samples), train (MG, 2 epochs), evaluate: the metrics."""
    data = str(tmp_path / "data" / "dataset.h5")
    assert main(["datagen", "--problem", *problem, "--h", h, "--refinements", "1", "--n", "8",
                 "--out", str(tmp_path / "data")]) == 0
    assert main(["train", "--data", data, "--processor", "mg", "--width", "8", "--epochs", "2",
                 "--out", str(tmp_path / "train")]) == 0
    assert main(["evaluate", "--checkpoint", str(tmp_path / "train" / "last.pt"), "--data", data,
                 "--out", str(tmp_path / "eval")]) == 0
    return json.loads((tmp_path / "eval" / "metrics.json").read_text())


def test_vector_dataset_round(tmp_path, capsys):
    """Elasticity (vector displacement, clamped on boundary 1): datagen, train, evaluate."""
    metrics = _round(tmp_path, "elasticity")
    assert metrics["n"] == 8 and metrics["max_boundary_error"] == 0.0
    from spon.models import load_checkpoint
    model = load_checkpoint(tmp_path / "train" / "last.pt")
    assert model.decoder.V.value_shape == (2,) and model.spec["decoder"]["boundary"] == [1]


def test_mixed_dataset_round(tmp_path, capsys):
    """Stokes (u, p) on Taylor–Hood: datagen, train on the shared node graph, evaluate per part."""
    metrics = _round(tmp_path, "stokes", "--pressure", h="0.4")
    assert metrics["n"] == 8 and metrics["max_boundary_error"] == 0.0      # no slip, exact
    assert [p["element"].startswith(e) for p, e in zip(metrics["parts"], ("<vector", "<CG1"))] == [True, True]
    from spon.fem import load_functions
    from spon.models import load_checkpoint
    model = load_checkpoint(tmp_path / "train" / "last.pt")
    assert len(model.decoder.V) == 2 and model.spec["decoder"]["kind"] == "mixed"
    assert len(model.decoder.boundary_dofs) > 0
    preds = load_functions(tmp_path / "eval" / "predictions.h5", name="prediction")
    assert len(preds) == 8 and len(preds[0].function_space()) == 2


def test_pressure_only_for_stokes(capsys):
    assert main(["datagen", "--problem", "darcy", "--pressure", "--out", "/tmp/spon-cli-bad"]) == 2
    assert "--pressure: only --problem stokes" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["train"], "--data: required"),
    (["train", "--data", "/nonexistent/d.h5"], "path: expected an spon HDF5 dataset"),
    (["evaluate", "--checkpoint", "/nonexistent.pt", "--data", "x"], "path: expected a spon checkpoint"),
    (["datagen", "--h", "-1", "--out", "/tmp/spon-cli-bad"], "h: expected a positive mesh size"),
])
def test_bad_input_exit_code_2_with_message(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("spon: error:") and message in err and "Traceback" not in err


def test_failure_while_running_is_exit_code_1(tmp_path, monkeypatch, capsys):
    """A library error after the input checks is a failure (1), not bad usage (2)."""
    import spon.training

    assert main(["datagen", "--problem", "darcy", "--h", "0.3", "--refinements", "1", "--n", "6",
                 "--out", str(tmp_path / "data")]) == 0
    data = str(tmp_path / "data" / "dataset.h5")
    capsys.readouterr()
    assert main(["train", "--data", data, "--lr", "nan", "--out", str(tmp_path / "t")]) == 2
    assert "--lr: expected a positive finite learning rate" in capsys.readouterr().err

    def diverge(self, *a, **k):
        raise ValueError("solver diverged")

    monkeypatch.setattr(spon.training.Trainer, "fit", diverge)
    assert main(["train", "--data", data, "--processor", "mlp", "--width", "4", "--epochs", "1",
                 "--out", str(tmp_path / "train")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("spon: failed: ValueError: solver diverged") and "Traceback" not in err


def test_outputs_are_written_atomically(tmp_path, monkeypatch, capsys):
    """A crash while writing config.json leaves no file and no temporary behind."""
    import spon.atomic

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(spon.atomic, "_fsync", broken)
    assert main(["datagen", "--h", "0.3", "--n", "2", "--out", str(tmp_path / "d")]) == 1
    assert "disk full" in capsys.readouterr().err
    assert list((tmp_path / "d").iterdir()) == []


def test_bad_config(tmp_path, capsys):
    bad = tmp_path / "c.toml"
    bad.write_text("epochs = 3\nfoo = 1\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "unknown keys ['foo']" in capsys.readouterr().err
    bad.write_text("epochs = = 3\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "is not valid TOML" in capsys.readouterr().err


def test_demo_command_runs_a_demo(tmp_path, capsys):
    assert main(["demo", "poisson_mlp", "--h", "0.3", "--n-train", "10", "--n-test", "3", "--epochs", "3",
                 "--width", "8", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "poisson_mlp.png").is_file()


def test_fe2_reference_round(tmp_path, capsys):
    out = tmp_path / "fe2"
    assert main(["fe2", "--material", "reference", "--rve-h", "0.2", "--h", "24", "--degree", "1",
                 "--displacement", "0.5", "--steps", "1", "--out", str(out)]) == 0
    hist = json.loads((out / "history.json").read_text())
    assert hist["micro_solves"] > 0 and hist["steps"][0]["reaction"] > 0
    r = hist["steps"][0]["newton_residuals"]
    assert r[-1] < 1e-9 * r[0]
    assert (out / "reaction.png").is_file() and (out / "fe2.pvd").is_file()


def test_fe2_bad_boundary_id_is_a_usage_error(tmp_path, capsys):
    assert main(["fe2", "--material", "reference", "--rve-h", "0.2", "--h", "24", "--clamped", "9",
                 "--out", str(tmp_path)]) == 2
    assert "clamped: boundary id 9" in capsys.readouterr().err
