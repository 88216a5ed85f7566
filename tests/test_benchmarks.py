"""Every registered benchmark problem runs end to end with tiny settings (marked ``benchmark``:
not in the default suite; ``make test-benchmarks`` runs them), and the least-squares baseline
is the best affine map."""
import importlib
import json

import pytest
import torch

from benchmarks.baselines.least_squares import LeastSquaresOperator
from benchmarks.harness import Results, summary
from benchmarks.problems import PROBLEMS


@pytest.mark.benchmark
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_problem_runs_with_tiny_settings(name, tmp_path):
    problem = PROBLEMS[name]
    for module in problem.needs:
        pytest.importorskip(module)
    out = tmp_path / problem.result.split("#")[0]
    result = problem.main([*problem.smoke, "--out", str(out)])
    assert out.is_file()
    written = json.loads(out.read_text())
    if "#" in problem.result:                   # a section of a shared file
        section = problem.result.split("#")[1]
        assert section in written and written[section]["total_seconds"] > 0
    assert result is None or isinstance(result, dict)


def test_every_problem_module_has_a_main():
    for p in PROBLEMS.values():
        assert callable(importlib.import_module(f"benchmarks.problems.{p.module}").main), p.name


def test_least_squares_recovers_an_affine_map_and_chooses_alpha_on_validation():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(80, 30, dtype=torch.float64, generator=g)
    A, b = torch.randn(30, 12, dtype=torch.float64, generator=g), torch.randn(12, dtype=torch.float64, generator=g)
    op = LeastSquaresOperator().fit(X, X @ A + b)
    Xt = torch.randn(5, 30, dtype=torch.float64, generator=g)
    assert (op.predict(Xt) - (Xt @ A + b)).abs().max() < 1e-8
    assert op.alpha == min(op.alphas)        # exact data: the least regularisation wins
    noisy = X @ A + 3 * torch.randn(80, 12, dtype=torch.float64, generator=g)
    assert LeastSquaresOperator().fit(X[:30], noisy[:30]).alpha > min(op.alphas)   # few noisy pairs: more


def test_summary_and_results_file(tmp_path):
    runs = [{"rel_l2": 0.1, "max_boundary_error": 0.0, "train_seconds": 1.0, "params": 5},
            {"rel_l2": 0.3, "max_boundary_error": 1e-3, "train_seconds": 3.0, "params": 5}]
    s = summary(runs)
    assert s["rel_l2"] == pytest.approx(0.2) and s["rel_l2_std"] == pytest.approx(0.1414213562)
    assert s["max_boundary_error"] == 1e-3 and s["train_seconds"] == 2.0
    r = Results(tmp_path / "r.json")
    r["a"] = {"x": 1}
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": {"x": 1}}
    assert Results(tmp_path / "r.json")["a"] == {"x": 1}
    other = Results(tmp_path / "r.json")          # a second run, side by side, writing another section
    other["b"] = {"y": 2}
    r["a"] = {"x": 3}                               # does not undo it
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": {"x": 3}, "b": {"y": 2}}


@pytest.mark.benchmark
def test_fno_coordinate_channels_are_in_the_unit_box():
    """The grid FNO's coordinate channels span [0, 1] whatever the part's units (Cook's membrane is
    48 x 60 mm): raw millimetres would be channels fifty times the size of the normalised field."""
    pytest.importorskip("neuralop")
    import firedrake as fd

    from benchmarks.baselines.fno import GridFNO
    from spon.fem import GridTransfer
    from spon.mesh import MeshSpec, build_mesh

    mesh = build_mesh(MeshSpec("cook_membrane", 16.0, 0))
    m = GridFNO(GridTransfer(fd.FunctionSpace(mesh, "CG", 1), n=8), n_modes=4, hidden_channels=4, seed=0, c=2)
    xy = m.const[:2]
    assert torch.allclose(xy.amin(dim=(1, 2)), torch.zeros(2)) and torch.allclose(xy.amax(dim=(1, 2)), torch.ones(2))
