"""The learned Picard processor: it starts as linear elasticity, holds the clamp exactly whatever its
weights, with the true stress it is modified Newton, and it reloads bit for bit."""
import firedrake as fd
import pytest
import torch

from spon.fem import ElasticityForm
from spon.fem.assembly import green_matrix
from spon.fem.bcs import dirichlet_mask
from spon.mesh import MeshSpec
from spon.models import build_spon, load_checkpoint, save_checkpoint
from spon.physics import HyperelasticEnergy, neo_hookean
from spon.processors import PicardProcessor

LAME = {"mu": 0.4, "lmbda": 0.6}
VEC = {"family": "CG", "degree": 1, "shape": [2]}
SPEC = {"mesh": MeshSpec("unit_square", 0.3, 1).to_dict(), "input": VEC, "output": VEC,
        "encoder": {"kind": "inverse_elasticity", **LAME}, "decoder": {"kind": "dirichlet", "value": 0.0,
                                                                       "boundary": [1]},
        "processor": {"kind": "picard", **LAME, "steps": 2, "width": 8, "depth": 2}, "dtype": "float64", "seed": 0}


@pytest.fixture(scope="module")
def model():
    return build_spon(SPEC)


def _forces(m, n=3, seed=0):
    return 0.05 * torch.randn(n, m.encoder.U.dim(), dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _randomise(m, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.processor.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def test_untrained_model_is_the_linear_elastic_solve(model):
    x = _forces(model)
    model.fit_scales(x)
    assert model.input_scale.item() == 1.0 and model.output_scale.item() == 1.0
    with torch.no_grad():     # the strain scale is the RMS of the linear solutions' gradients
        g = model.processor.gradients(model.encoder(x).reshape(len(x), -1))
    assert abs(model.processor.strain_scale.item() - g.pow(2).mean().sqrt().item()) < 1e-12 * g.abs().max().item()
    with torch.no_grad():
        assert torch.equal(model(x), model.decoder(model.encoder(x)))


def test_clamped_dofs_are_exactly_zero_for_any_weights(model):
    m = build_spon(SPEC)
    m.fit_scales(_forces(m))
    _randomise(m)
    with torch.no_grad():
        u, u1 = m(_forces(m, seed=4)).reshape(3, -1), m.encoder(_forces(m, seed=4)).reshape(3, -1)
    held = torch.as_tensor(dirichlet_mask(m.decoder.V, m.decoder.bcs, "V"))
    assert held.any() and u[:, held].abs().max() == 0.0
    assert (u - u1).abs().max() > 1e-3 * u1.abs().max()        # the weights do act
    with torch.no_grad():     # the processor itself, not only the decoder after it, holds the clamp
        assert m.processor(u1)[:, held].abs().max() == 0.0


def test_true_stress_gives_modified_newton():
    """τ = σ_lin(∇u) − P(I + ∇u) in one step is u₂ = u₁ + K⁻¹(f − R(u₁)): the iteration the processor learns
    to beat. Checked by replacing the learned stress with the true one."""
    m = build_spon({**SPEC, "processor": {**SPEC["processor"], "steps": 1}})
    V, proc = m.decoder.V, m.processor
    x = _forces(m)
    u1 = m.encoder(x)
    E = HyperelasticEnergy(V, neo_hookean(**LAME))
    lin = HyperelasticEnergy(V, lambda F: _linear(F, **LAME))
    with torch.enable_grad():
        g = (proc.gradients(u1)).reshape(len(x), -1, 2, 2).requires_grad_(True)
        Fm = g + torch.eye(2, dtype=g.dtype)
        tau, = torch.autograd.grad((lin.psi(Fm) - E.psi(Fm)).sum(), g)
    proc.stress[0].forward = lambda feat: tau.reshape(len(x), -1, 4) / (LAME["mu"] * proc.strain_scale)
    with torch.no_grad():
        got = proc(u1)
    clamped = dirichlet_mask(V, m.decoder.bcs, "V")
    B = m.encoder.U  # same space: the load of x is M x
    M = torch.as_tensor(fd.assemble(fd.inner(fd.TrialFunction(B), fd.TestFunction(V)) * fd.dx,
                                    mat_type="aij").petscmat.convert("dense").getDenseArray())
    Kinv = green_matrix(V, ElasticityForm(**LAME), clamped, source="load")
    want = u1 + (x @ M.T - E.internal_force(u1)) @ Kinv.T
    assert (got - want).abs().max() < 1e-12 * want.abs().max()


def _linear(F, mu, lmbda):
    """The linear elastic energy density as a function of F (its stress is σ_lin(∇u))."""
    e = 0.5 * (F + F.transpose(-2, -1)) - torch.eye(F.shape[-1], dtype=F.dtype)
    tr = e.diagonal(dim1=-2, dim2=-1).sum(-1)
    return mu * (e * e).sum((-2, -1)) + lmbda / 2 * tr ** 2


def test_reloads_bit_for_bit(tmp_path):
    m = build_spon(SPEC)
    m.fit_scales(_forces(m))
    _randomise(m, 5)
    x = _forces(m, seed=6)
    with torch.no_grad():
        want = m(x)
    save_checkpoint(m, tmp_path / "picard.pt")
    back = load_checkpoint(tmp_path / "picard.pt")
    assert back.processor.strain_scale.item() == m.processor.strain_scale.item()
    with torch.no_grad():
        assert torch.equal(back(x), want)


def test_bad_arguments_are_named(model):
    V = model.decoder.V
    with pytest.raises(TypeError, match="form: expected an ElasticityForm"):
        PicardProcessor(V, lambda u, v: None, dirichlet_mask(V, model.decoder.bcs, "V"))
    with pytest.raises(ValueError, match="steps: expected a positive"):
        PicardProcessor(V, ElasticityForm(**LAME), dirichlet_mask(V, model.decoder.bcs, "V"), steps=0)
    with pytest.raises(ValueError, match="'picard' needs a Dirichlet decoder"):
        build_spon({**SPEC, "encoder": "l2"})     # the force itself is not a displacement


# --- the coefficient iteration (Darcy: κ in, u out) ---
DARCY = {"mesh": MeshSpec("unit_square", 0.3, 1).to_dict(), "input": {"family": "DG", "degree": 0},
         "output": {"family": "CG", "degree": 1}, "encoder": "coefficients",
         "decoder": {"kind": "dirichlet", "value": 0.0},
         "processor": {"kind": "coefficient_picard", "bounds": [3.0, 12.0], "steps": 4, "width": 8},
         "dtype": "float64", "seed": 0}


def _kappa(m, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 3.0 + 9.0 * (torch.rand(n, m.encoder.U.dim(), generator=g, dtype=torch.float64) > 0.5).double()


def _fe_solution(m, kappa):
    V, U = m.decoder.V, m.encoder.U
    k, u, v = fd.Function(U), fd.TrialFunction(V), fd.TestFunction(V)
    out = []
    for row in kappa:
        k.dat.data[:] = row.numpy()
        w = fd.Function(V)
        fd.solve(k * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx == fd.Constant(1.0) * v * fd.dx, w,
                 bcs=m.decoder.bcs)
        out.append(torch.as_tensor(w.dat.data_ro.copy()))
    return torch.stack(out)


def test_untrained_coefficient_iteration_is_chebyshev_and_converges_to_the_fe_solution():
    """Untrained, ``steps`` steps are Chebyshev's for κ ∈ [3, 12] (checked against the recurrence with
    Firedrake's own A(κ)), and they converge to the FE solution of −div(κ∇u) = 1 as steps grow."""
    import numpy as np

    errors = []
    for steps in (2, 4, 8, 16):
        m = build_spon({**DARCY, "processor": {**DARCY["processor"], "steps": steps}})
        kappa = _kappa(m, n=2)
        with torch.no_grad():
            u = m(kappa).reshape(len(kappa), -1)
        want = _fe_solution(m, kappa)
        errors.append(float(((u - want).norm(dim=1) / want.norm(dim=1)).max()))
        if steps == 4:
            V, U = m.decoder.V, m.encoder.U
            A0inv, u1 = m.processor.inverse, m.processor.u1
            k, a_, v_ = fd.Function(U), fd.TrialFunction(V), fd.TestFunction(V)
            k.dat.data[:] = kappa[0].numpy()
            A = torch.as_tensor(fd.assemble(k * fd.inner(fd.grad(a_), fd.grad(v_)) * fd.dx, mat_type="aij")
                                .petscmat.convert("dense").getDenseArray())
            roots = [7.5 + 4.5 * np.cos(np.pi * (2 * j + 1) / 8) for j in range(4)]
            x = u1 * (2 / 15)
            for r in roots:
                x = x + (u1 - A0inv @ (A @ x)) / r
            assert (u[0] - x).abs().max() < 1e-12 * x.abs().max()
    assert all(a > b for a, b in zip(errors, errors[1:])) and errors[-1] < 1e-6, errors


def test_coefficient_iteration_holds_the_boundary_and_reloads(tmp_path):
    m = build_spon(DARCY)
    _randomise(m, 2)
    kappa = _kappa(m, seed=3)
    with torch.no_grad():
        u = m(kappa).reshape(len(kappa), -1)
    held = torch.as_tensor(dirichlet_mask(m.decoder.V, m.decoder.bcs, "V"))
    assert held.any() and u[:, held].abs().max() == 0.0
    with torch.no_grad():
        assert m.processor(kappa)[:, held].abs().max() == 0.0
    save_checkpoint(m, tmp_path / "darcy.pt")
    with torch.no_grad():
        assert torch.equal(load_checkpoint(tmp_path / "darcy.pt")(kappa).reshape(len(kappa), -1), u)


def test_coefficient_iteration_bad_arguments_are_named():
    with pytest.raises(ValueError, match="bounds: expected 0 < low < high"):
        build_spon({**DARCY, "processor": {**DARCY["processor"], "bounds": [12.0, 3.0]}})
    with pytest.raises(ValueError, match="needs 'bounds'"):
        build_spon({**DARCY, "processor": {"kind": "coefficient_picard"}})
    with pytest.raises(ValueError, match="'coefficient_picard' needs the 'coefficients' encoder"):
        build_spon({**DARCY, "encoder": "l2"})
