"""EquiNO on POD bases: periodic and equilibrated modes, autodiff tangents, checkpoints, box checks."""
import numpy as np
import pytest
import torch

fd = pytest.importorskip("firedrake")

from spon.mesh import rve_mesh  # noqa: E402
from spon.multiscale import RVEProblem, equino_materials, voigt_strain  # noqa: E402
from spon.multiscale import (EquiNO, StressMLP, field_errors, fit_equino, fit_stress_mlp,  # noqa: E402
                             load_surrogate, pod, save_surrogate, select_stress_mlp)
from spon.multiscale.workflow import small_strain_sampling  # noqa: E402
from spon.multiscale.voigt import VOIGT_WEIGHTS  # noqa: E402
from spon.multiscale.macro import MacroProblem, SurrogateMaterial  # noqa: E402
from spon.multiscale.micro import periodic_mismatch  # noqa: E402
from spon.multiscale.snapshots import RVEQuadrature, collect_snapshots, latin_hypercube  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    mats = equino_materials()
    rve = RVEProblem(rve_mesh("fibre", h=0.1), mats)
    quad = RVEQuadrature(rve)
    snaps = collect_snapshots(rve, latin_hypercube(24, seed=0), quad, progress=False)
    model = EquiNO.from_snapshots(snaps, quad, mats, tol=1e-6, width=16, depth=2, form="offset")
    return rve, quad, snaps, model


@pytest.fixture(scope="module")
def linear_regime(setup):
    """Cell solutions at ε̄ = 1e-4 e_i: the linear response."""
    rve, quad, *_ = setup
    return collect_snapshots(rve, 1e-4 * np.eye(3), quad, progress=False)


@pytest.fixture(scope="module", params=["plain_pod", "normalised_pod", "anchored_pod"])
def modes(request, setup, linear_regime):
    """(rve, quad, snaps, model) with the POD of raw or of unit-norm snapshots, or with linear-regime anchors."""
    rve, quad, snaps, model = setup
    if request.param != "plain_pod":
        kw = {"pod_normalised": True} if request.param == "normalised_pod" else {"anchors": linear_regime}
        model = EquiNO.from_snapshots(snaps, quad, equino_materials(), tol=1e-6, width=16, depth=2, **kw)
    return rve, quad, snaps, model


def test_anchored_pod_spans_the_linear_response(setup, linear_regime):
    """Plain POD weighs a snapshot by ‖ε̄‖², so the linear-regime fields fall below its tolerance;
    anchors scaled to the snapshots' norm put them in the span (to the POD tolerance)."""
    _, quad, snaps, plain = setup
    anchored = EquiNO.from_snapshots(snaps, quad, equino_materials(), tol=1e-6, width=16, depth=2,
                                     anchors=linear_regime)
    w = quad.weights

    def residual(model):
        X = linear_regime.stress_q
        P = model.stress_modes.numpy()
        c = np.einsum("sqc,q,c,kqc->sk", X, w, VOIGT_WEIGHTS, P)
        R = X - np.einsum("sk,kqc->sqc", c, P)
        return (norm(R) / norm(X)).max()

    def norm(Y):
        return np.sqrt(np.einsum("sqc,q,c->s", Y**2, w, VOIGT_WEIGHTS))

    assert residual(anchored) < 2e-3 < residual(plain) / 5, (residual(anchored), residual(plain))
    assert anchored.meta["pod_anchors"] == (1e-4 * np.eye(3)).tolist()


def test_latin_hypercube_strata():
    X = latin_hypercube(10, 0.04, seed=3)
    assert X.shape == (10, 3) and np.abs(X).max() <= 0.04
    for d in range(3):   # one point per stratum on every axis
        assert sorted(np.floor((X[:, d] + 0.04) / 0.008).astype(int)) == list(range(10))


def test_quadrature_weights_integrate_like_firedrake(setup):
    rve, quad, *_ = setup
    x = fd.SpatialCoordinate(rve.mesh)
    f = fd.sin(3 * x[0]) * fd.exp(x[1])
    assert abs(quad.weights @ quad.sample(f, quad.Q) - fd.assemble(f * rve.dx)) < 1e-13


def test_pod_modes_are_orthonormal(modes):
    _, quad, snaps, model = modes
    psi = model.stress_modes.numpy()
    G = np.einsum("kqc,q,c,lqc->kl", psi, quad.weights, VOIGT_WEIGHTS, psi)
    assert np.abs(G - np.eye(model.n_sigma)).max() < 1e-8   # method of snapshots: ~ eps·λ₀/λ_k
    G = np.einsum("kqc,q,lqc->kl", model.u_modes_q.numpy(), quad.weights, model.u_modes_q.numpy())
    assert np.abs(G - np.eye(model.n_u)).max() < 1e-8
    T, lam = pod(snaps.u_q, quad.weights, tol=0.0)
    assert np.all(np.diff(lam) <= 1e-12 * lam[0])


def test_displacement_modes_are_periodic_fe_functions(modes):
    rve, _, _, model = modes
    phi = fd.Function(rve.V)
    for k in range(model.n_u):
        phi.dat.data[:] = model.u_modes[k].numpy()
        jump, pairs = periodic_mismatch(phi)
        assert pairs > 0 and jump < 1e-13 * np.abs(phi.dat.data_ro).max()


def test_stress_modes_are_equilibrated(modes):
    """∫ ψ_j : ε(v) = 0 for all periodic v, to the micro Newton tolerance; a non-equilibrated field is not."""
    rve, quad, _, model = modes
    v = fd.TestFunction(rve.V)
    psi = fd.Function(quad.Q3)
    x = fd.SpatialCoordinate(rve.mesh)

    def residual(field):
        s = voigt_strain(fd.as_vector([field[0], field[1], 2 * field[2]]))   # Voigt stress → tensor
        return np.linalg.norm(fd.assemble(fd.inner(s, fd.sym(fd.grad(v))) * rve.dx).dat.data_ro)

    for k in range(model.n_sigma):
        psi.dat.data[:] = model.stress_modes[k].numpy()
        r_eq = residual(psi)
        r_bad = residual(psi * (1 + x[0]))
        assert r_eq < 1e-5 * r_bad, (k, r_eq, r_bad)   # mode k amplifies the Newton residual by λ₀/λ_k


def test_loss_vanishes_at_the_fe_solution_projection(modes):
    _, quad, snaps, model = modes
    w = quad.weights
    a = torch.tensor(np.einsum("sqc,q,kqc->sk", snaps.u_q, w, model.u_modes_q.numpy()))
    b = torch.tensor(np.einsum("sqc,q,c,kqc->sk", snaps.stress_q, w, VOIGT_WEIGHTS, model.stress_modes.numpy()))
    E = torch.tensor(snaps.strain)
    law = model.law_stress(E, a)
    assert np.linalg.norm(law.numpy() - snaps.stress_q) < 5e-3 * np.linalg.norm(snaps.stress_q)
    r = law - torch.einsum("bk,kqc->bqc", b, model.stress_modes)
    assert (r ** 2).sum() < 1e-4 * (law ** 2).sum()
    assert model.constitutive_loss(E).mean().item() > 1e-3   # the untrained network is far off


@pytest.mark.parametrize("norm", ["compliance", "stress"])
def test_constitutive_loss_is_the_quadrature_sum_of_the_mismatch(setup, norm):
    """The phase-by-phase loss equals ``Σ_q w_q r_q·C_t(ε_q)⁻¹ r_q / Σ_q w_q σ(ε̄)·ε̄`` written point by point."""
    _, quad, _, model = setup
    E = torch.tensor(latin_hypercube(5, seed=7))
    a, b = model.coefficients(E)
    eps = model._strain(E, a)
    r = model.law_stress(E, a) - torch.einsum("bk,kqc->bqc", b, model.stress_modes)
    w = model.weights
    ref = model.law_stress(E, torch.zeros_like(a))
    if norm == "compliance":
        C = torch.stack([model.materials[int(p)].tangent_voigt(eps[:, q]) for q, p in enumerate(model.phase)], 1)
        num = torch.einsum("bqc,q,bqc->b", r, w, torch.linalg.solve(C, r.unsqueeze(-1)).squeeze(-1))
        den = torch.einsum("bqc,q,bc->b", ref, w, E).abs()
    else:
        k = torch.tensor(VOIGT_WEIGHTS)
        num, den = (torch.einsum("bqc,q,c->b", x**2, w, k) for x in (r, ref))
    loss = model.constitutive_loss(E, norm=norm)
    assert torch.allclose(loss, num / den, rtol=1e-12, atol=0)
    assert torch.allclose(model.constitutive_loss(E, norm=norm, reduce="batch"), num.sum() / den.sum(), rtol=1e-12)


def test_constitutive_loss_names_a_phase_without_a_law(setup):
    rve, quad, snaps, _ = setup
    model = EquiNO.from_snapshots(snaps, quad, {1: equino_materials()[1]}, tol=1e-6, width=8, depth=1)
    with pytest.raises(ValueError, match=r"phase\(s\) \[2\]"):
        model.constitutive_loss(torch.tensor(latin_hypercube(2, seed=1)))


@pytest.fixture(scope="module")
def secant(setup, linear_regime):
    """EquiNO with coefficients ``c = G(x) x`` (briefly trained, so G is not its initial value)."""
    _, quad, snaps, _ = setup
    model = EquiNO.from_snapshots(snaps, quad, equino_materials(), tol=1e-6, width=16, depth=2,
                                  anchors=linear_regime, form="secant")
    fit_equino(model, steps=30, batch=16, progress=False)
    return model


@pytest.mark.parametrize("bound", [1e-4, 0.039], ids=["small_strain", "large_strain"])
@pytest.mark.parametrize("kind", ["equino", "equino_secant", "mlp"])
def test_tangent_is_the_derivative_of_the_stress(setup, secant, kind, bound):
    _, _, snaps, model = setup
    if kind == "equino_secant":
        model = secant
    if kind == "mlp":
        model = StressMLP(width=16, depth=2)
        fit_stress_mlp(model, snaps.strain, snaps.stress, steps=50, progress=False)
    E = torch.tensor(latin_hypercube(5, bound, seed=7))
    s, C = model.stress_and_tangent(E)
    h = 1e-6 * bound / 0.03
    for k in range(3):
        d = torch.zeros(3, dtype=torch.float64)
        d[k] = h
        fd_col = (model.homogenised_stress(E + d) - model.homogenised_stress(E - d)) / (2 * h)
        assert torch.allclose(C[:, :, k], fd_col, rtol=1e-6, atol=1e-8 * C.abs().max().item())
    assert torch.allclose(s, model.homogenised_stress(E), rtol=1e-13)


def test_anchored_stress_mlp_has_zero_stress_at_zero_strain(setup):
    _, _, snaps, _ = setup
    model = StressMLP(width=16, depth=2)
    fit_stress_mlp(model, snaps.strain, snaps.stress, snaps.tangent, steps=20, progress=False)
    s, C = model.stress_and_tangent(torch.zeros(2, 3, dtype=torch.float64))
    assert s.abs().max().item() < 1e-14 * model.scale.max().item()
    loose = StressMLP(width=16, depth=2, anchored=False)
    fit_stress_mlp(loose, snaps.strain, snaps.stress, steps=20, progress=False)
    assert loose.homogenised_stress(torch.zeros(1, 3, dtype=torch.float64)).abs().max().item() > 1e-6


def test_stress_mlp_sobolev_fit_and_cross_validation(setup, tmp_path):
    _, quad, snaps, _ = setup
    model = StressMLP(width=16, depth=2)
    hist = fit_stress_mlp(model, snaps.strain, snaps.stress, snaps.tangent, steps=200, lbfgs_steps=50,
                          progress=False)
    assert hist[-1] < 0.05 * hist[0]                 # σ̄ and C̄ both fitted (relative, per snapshot)
    err = field_errors(model, snaps, quad)
    assert err["sigma_bar"] < 0.05 and err["tangent"] < 0.1
    save_surrogate(model, tmp_path / "mlp.pt")
    again = load_surrogate(tmp_path / "mlp.pt")
    E = torch.tensor(snaps.strain[:3])
    assert again.anchored and torch.equal(again.homogenised_stress(E), model.homogenised_stress(E))
    grid = ({"width": 4, "depth": 1}, {"width": 16, "depth": 2})
    best, table = select_stress_mlp(snaps.strain, snaps.stress, snaps.tangent, grid=grid, folds=3, steps=60,
                                    progress=False)
    assert [r["hyperparameters"] for r in table] == list(grid)
    assert best == min(table, key=lambda r: r["cv_sigma_bar"])["hyperparameters"]
    with pytest.raises(ValueError, match="tangents: expected shape"):
        fit_stress_mlp(model, snaps.strain, snaps.stress, snaps.tangent[:, :2], steps=1, progress=False)


def test_small_strain_sampling_pulls_a_fraction_towards_zero():
    E = latin_hypercube(40, 0.04, seed=1)
    S = small_strain_sampling(E, 0.25, seed=0)
    ratio = np.linalg.norm(S, axis=1) / np.linalg.norm(E, axis=1)
    assert np.all(ratio[:10] <= 1) and ratio[:10].min() < 0.5 and np.array_equal(S[10:], E[10:])


def test_training_lowers_the_constitutive_loss(setup):
    _, _, _, model = setup
    hist = fit_equino(model, steps=150, batch=16, lr=3e-3, lbfgs_steps=20, collocation=32, progress=False)
    assert np.mean(hist[-10:]) < 0.1 * hist[0]


def test_secant_form_has_zero_stress_and_fluctuation_at_zero_strain(secant):
    a, b = secant.coefficients(torch.zeros(2, 3, dtype=torch.float64))
    assert torch.equal(a, torch.zeros_like(a)) and torch.equal(b, torch.zeros_like(b))
    E = torch.tensor([[1e-7, -2e-7, 3e-7]], dtype=torch.float64)
    assert secant.coefficients(E)[1].abs().max() > 0    # and nonzero at any strain


@pytest.mark.parametrize("form", ["offset", "secant"])
def test_checkpoint_round_trip(setup, secant, tmp_path, form):
    _, quad, snaps, model = setup
    if form == "secant":
        model = secant
    save_surrogate(model, tmp_path / "eq.pt")
    again = load_surrogate(tmp_path / "eq.pt")
    E = torch.tensor(snaps.strain[:4])
    assert torch.equal(model.stress_and_tangent(E)[1], again.stress_and_tangent(E)[1])
    assert again.form == form
    assert field_errors(again, snaps, quad).keys() >= {"u_x", "u_y", "sigma_xx", "sigma_yy", "sigma_xy"}


def test_strain_outside_the_box_is_refused(setup, tmp_path):
    *_, model = setup
    with pytest.raises(ValueError, match=r"strain: 1 strain\(s\) lie outside the surrogate's training box"):
        model.stress_and_tangent(torch.tensor([[0.05, 0.0, 0.0], [0.01, 0.0, 0.0]], dtype=torch.float64))
    with pytest.raises(TypeError, match="strain: expected torch.float64"):
        model.stress_and_tangent(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="strain: contains NaN"):
        model.stress_and_tangent(torch.tensor([[np.nan, 0.0, 0.0]], dtype=torch.float64))
    # in the macro solver the same check stops Newton with the message
    mesh = fd.UnitSquareMesh(2, 2)
    mp = MacroProblem(mesh, SurrogateMaterial(model), clamped=1, loaded=2, direction=0, degree=1)
    with pytest.raises(ValueError, match="outside the surrogate's training box"):
        mp.step(0.2)
    with pytest.raises(FileNotFoundError, match="path: expected a spon surrogate checkpoint"):
        load_surrogate(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("nope")
    with pytest.raises(ValueError, match="path: .* is not a spon surrogate checkpoint"):
        load_surrogate(tmp_path / "junk.pt")
