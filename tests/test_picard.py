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
    assert model.processor.strain_scale.item() > 0
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
