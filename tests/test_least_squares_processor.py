"""The least-squares processor: a SPON fitted in closed form is the best linear map on its pairs."""
import firedrake as fd
import pytest
import torch

from spon.fem import FENorm
from spon.mesh import MeshSpec
from spon.models import build_spon
from spon.processors import LeastSquaresProcessor
from spon.training import fit_least_squares

MS = MeshSpec("unit_square", 0.25, 1).to_dict()


def _model(value=0.0, rank=200, decoder=None):
    return build_spon({"mesh": MS, "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
                       "encoder": "coefficients", "decoder": decoder or {"kind": "dirichlet", "value": value},
                       "processor": {"kind": "least_squares", "rank": rank}, "dtype": "float64"})


@pytest.fixture(scope="module")
def poisson_pairs():
    """Sources and their FE Poisson solutions (zero Dirichlet data): a linear map."""
    m = _model()
    V = m.decoder.V
    u, v, f = fd.TrialFunction(V), fd.TestFunction(V), fd.Function(V)
    uh = fd.Function(V)
    bc = fd.DirichletBC(V, 0.0, "on_boundary")
    problem = fd.LinearVariationalSolver(fd.LinearVariationalProblem(
        fd.inner(fd.grad(u), fd.grad(v)) * fd.dx, f * v * fd.dx, uh, bcs=bc),
        solver_parameters={"ksp_type": "preonly", "pc_type": "lu"})
    X = torch.randn(3 * V.dim(), V.dim(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    Y = []
    for x in X:
        f.dat.data[:] = x.numpy()
        problem.solve()
        Y.append(torch.tensor(uh.dat.data_ro.copy()))
    return X, torch.stack(Y)


def test_recovers_a_linear_fe_map_to_round_off(poisson_pairs):
    X, Y = poisson_pairs
    m = _model()
    info = fit_least_squares(m, X[:-20], Y[:-20])
    with torch.no_grad():
        err = FENorm(m.decoder.V).relative_error(m(X[-20:]), Y[-20:]).max().item()
    assert err < 1e-9 and info["alpha"] <= 1e-9


def test_boundary_holds_the_decoders_data_bit_for_bit(poisson_pairs):
    X, Y = poisson_pairs
    m = _model(value=0.25)
    fit_least_squares(m, X, Y + 3.0)          # targets say 3 on the boundary: the decoder says 0.25
    with torch.no_grad():
        pred = m(X[:5])
    assert torch.equal(pred[:, m.decoder.mask], torch.full_like(pred[:, m.decoder.mask], 0.25))


def test_rank_keeps_the_strongest_modes():
    Z = torch.randn(40, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    T = Z @ torch.randn(10, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    P = LeastSquaresProcessor(10, 6, rank=4).fit(Z, T)
    U, s, Bt = torch.linalg.svd(Z - Z.mean(0), full_matrices=False)
    proj = (Z - Z.mean(0)) @ Bt[:4].T @ Bt[:4]        # the fit sees only the 4 strongest directions
    W = torch.linalg.lstsq(proj, T - T.mean(0)).solution
    assert P.modes == 4
    assert torch.allclose(P(Z), proj @ W + T.mean(0), atol=1e-10)


def test_ridge_is_chosen_on_validation_for_noisy_pairs(poisson_pairs):
    X, Y = poisson_pairs
    n = 30                                            # fewer pairs than DOFs, noisy targets
    noisy = Y[:n] + 0.5 * Y[:n].std() * torch.randn(n, Y.shape[1], dtype=torch.float64,
                                                     generator=torch.Generator().manual_seed(3))
    info = fit_least_squares(_model(), X[:n], noisy, val=(X[-20:], Y[-20:]))
    scores = {float(a): s for a, s in info["validation"].items()}
    assert info["alpha"] == min(scores, key=scores.get) and info["alpha"] > 1e-12


def test_bad_input_is_named(poisson_pairs):
    X, Y = poisson_pairs
    with pytest.raises(ValueError, match=r"Y: expected shape \(n, "):
        fit_least_squares(_model(), X, Y[:, :-1])
    bad = Y.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="Z, T: expected finite values"):
        fit_least_squares(_model(), X, bad)
    with pytest.raises(ValueError, match="lifting 'boundary'"):
        fit_least_squares(_model(decoder={"kind": "dirichlet", "value": 0.0, "lifting": "harmonic"}), X, Y)
    mlp = build_spon({"mesh": MS, "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
                      "encoder": "coefficients", "decoder": {"kind": "dirichlet", "value": 0.0},
                      "processor": {"kind": "mlp", "depth": 0}})
    with pytest.raises(ValueError, match="model.processor: expected a LeastSquaresProcessor"):
        fit_least_squares(mlp, X, Y)
    with pytest.raises(ValueError, match="z: expected shape"):
        LeastSquaresProcessor(4, 2, rank=2)(torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="rank: expected a positive integer"):
        LeastSquaresProcessor(4, 2, rank=0)
