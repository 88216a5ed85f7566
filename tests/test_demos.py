"""Gallery demos run as tests (with small settings)."""
import importlib.util
from pathlib import Path

import pytest

DEMOS = Path(__file__).resolve().parents[1] / "demos"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, DEMOS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_poisson_mlp_demo_learns_with_exact_bcs(tmp_path):
    demo = _load("poisson_mlp")
    rel, bnd = demo.main(["--h", "0.1", "--n-train", "40", "--n-test", "10", "--epochs", "150",
                          "--width", "64", "--out", str(tmp_path)])
    assert bnd <= 1e-12
    assert rel < 0.5  # learned something: the zero-interior guess has error ~1
    assert (tmp_path / "poisson_mlp.png").stat().st_size > 10_000
    assert (tmp_path / "poisson_mlp.pvd").is_file()
