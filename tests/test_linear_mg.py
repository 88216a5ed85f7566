"""The linear multigrid processor: linear in its input to round-off (and declared so in the spec), a
multigrid Poisson solve before any training, and a nonlinear correction that says it is not linear."""
import pytest
import torch

from spon.data import PoissonProblem
from spon.fem import FENorm
from spon.mesh import MeshSpec
from spon.models import build_spon
from spon.training import Trainer

MS = MeshSpec("unit_square", 0.3, 2)


def _spec(**proc):
    return {"mesh": MS.to_dict(), "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
            "encoder": "moments", "decoder": {"kind": "dirichlet", "value": 0.0}, "dtype": "float64",
            "processor": {"kind": "linear_mg", "cycles": 2, "hidden": 8, **proc}}


def _linearity_error(model, n):
    g = torch.Generator().manual_seed(0)
    f, h = torch.randn(2, 3, n, dtype=torch.float64, generator=g)
    with torch.no_grad():
        lhs = model(2.5 * f - 0.7 * h)
        rhs = 2.5 * model(f) - 0.7 * model(h)
    return ((lhs - rhs).norm() / rhs.norm()).item()


@pytest.fixture(scope="module")
def poisson():
    prob = PoissonProblem(MS, length_scale=0.2)
    x = prob.sample_inputs(40, seed=0)
    return prob, x, prob.solve(x, progress=False)


def test_linearity_to_round_off(poisson):
    prob, x, y = poisson
    model = build_spon(_spec())
    Trainer(model, epochs=2, batch_size=8, lr=1e-3, progress=False).fit((x, y))     # trained weights too
    assert model.spec["processor"]["linear"] is True
    assert model.spec["processor"]["dirichlet"] == "on_boundary"     # taken from the Dirichlet decoder
    assert _linearity_error(model, prob.input_space.dim()) < 1e-12


def test_nonlinear_correction_is_declared_and_breaks_linearity(poisson):
    prob, x, y = poisson
    model = build_spon(_spec(nonlinear=True, width=8, coarse_width=8, coarse_layers=1))
    Trainer(model, epochs=2, batch_size=8, lr=1e-3, progress=False).fit((x, y))
    assert model.spec["processor"]["linear"] is False
    assert _linearity_error(model, prob.input_space.dim()) > 1e-6


@pytest.mark.parametrize("infer", [False, True])
@pytest.mark.parametrize("cycles,at_most", [(1, 0.2), (6, 2e-3)])
def test_untrained_model_is_a_multigrid_poisson_solve(poisson, cycles, at_most, infer):
    """Laplace stiffness on every level (at the start, or inferred from the pairs), held boundary rows,
    block-Jacobi smoothers, Pᵀ for residuals and an exact coarse solve: each V-cycle contracts the error,
    and with the load vector in, six of them are the FE Poisson solution (no training)."""
    prob, x, y = poisson
    model = build_spon(_spec(cycles=cycles, infer_operator=infer))
    model.fit_scales(x, y)
    with torch.no_grad():
        err = FENorm(prob.output_space).relative_error(model(x), y).mean().item()
    assert err < at_most


def test_operator_inference_recovers_the_laplacian(poisson):
    """From (f, u) pairs of −Δu = f the least-squares Θ is the Laplacian's, tr(g), on every level, at the
    data's scale (the model's output scale is then its input scale)."""
    prob, x, y = poisson
    model = build_spon(_spec())
    model.fit_scales(x, y)
    assert model.output_scale.item() == model.input_scale.item()
    assert model.processor.inference_residual < 1e-6      # round-off, through the normal equations
    for A in model.processor.A:
        theta = A.theta.weight.detach()[0]
        assert torch.allclose(theta / theta[0], torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=theta.dtype), atol=1e-8)


def test_operator_inference_gives_an_elasticity_solve():
    """Plane-strain elasticity, clamped on one side: the inferred 2×2-block operator (c² · d² = 16
    numbers) is the elasticity stiffness, and four V-cycles of it are the FE solution to < 1 %, from
    30 pairs and no optimiser step. The Laplace start, not inferred, is 20 times as far."""
    from spon.data import ElasticityProblem

    prob = ElasticityProblem(MS, youngs=1.0, poisson=0.3, clamp=1)
    x = prob.sample_inputs(30, seed=0).reshape(30, -1)
    y = prob.solve(x.reshape(30, -1, 2), progress=False).reshape(30, -1)
    space = {"family": "CG", "degree": 1, "shape": [2]}
    errs = {}
    for infer in (True, False):
        model = build_spon({**_spec(cycles=4, infer_operator=infer), "input": space, "output": space,
                            "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": [1]}})
        model.fit_scales(x[:20], y[:20])
        with torch.no_grad():
            errs[infer] = FENorm(prob.output_space).relative_error(model(x[20:]), y[20:]).mean().item()
    assert errs[True] < 0.01
    assert errs[False] > 20 * errs[True]


def test_inference_on_pairs_of_no_linear_operator_warns(poisson):
    prob, x, y = poisson
    y = y + 5 * y * y.abs() / y.abs().max()
    model = build_spon(_spec())
    with pytest.warns(UserWarning, match="not those of a linear operator"):
        model.fit_scales(x, y)
    assert model.processor.inference_residual > 0.05


def test_training_ends_at_the_best_validation_epoch(poisson):
    """restore_best: the weights are those of the lowest validation error, the untrained start included
    (epoch 0), and the operators inferred from the pairs stay fixed unless train_operator."""
    prob, x, y = poisson
    model = build_spon(_spec(cycles=1))
    h = Trainer(model, epochs=3, batch_size=8, lr=3e-2, progress=False).fit((x[:30], y[:30]), (x[30:], y[30:]),
                                                                          restore_best=True)
    curve = [h["initial_test_rel"], *h["test_rel"]]
    assert h["best_epoch"] == min(range(4), key=curve.__getitem__)
    with torch.no_grad():
        err = FENorm(prob.output_space).relative_error(model(x[30:]), y[30:]).mean().item()
    assert err == pytest.approx(min(curve), rel=1e-10)
    assert not any(p.requires_grad for p in model.processor.A.parameters())
    with pytest.raises(ValueError, match="restore_best: expected a validation split"):
        Trainer(model, epochs=1, progress=False).fit((x, y), restore_best=True)


def test_bad_input():
    model = build_spon(_spec())
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, "):
        model.processor(torch.zeros(2, 7, dtype=torch.float64))
    from spon.processors import LinearMultigridProcessor
    import firedrake as fd
    levels = [fd.FunctionSpace(m, "CG", 1) for m in fd.MeshHierarchy(fd.UnitSquareMesh(2, 2), 1)]
    with pytest.raises(ValueError, match="cycles: expected at least 1"):
        LinearMultigridProcessor(levels, cycles=0)
    with pytest.raises(ValueError, match="spaces: expected at least 2 levels"):
        LinearMultigridProcessor(levels[:1])
