"""Structure held by construction: exact Dirichlet data and zero divergence."""
import firedrake as fd
import pytest
import torch

from spon.fem import DirichletDecoder, DivergenceFreeDecoder, MixedDecoder, CoefficientDecoder


def _boundary_rel_err(u, dec, g_b):
    got = dec.out_layout.flat(u)[:, dec.boundary_dofs]
    return ((got - g_b).abs().max() / g_b.abs().max()).item()


def test_dirichlet_fixed_data_exact(spaces, rng):
    V = spaces["scalar"]
    x, y = fd.SpatialCoordinate(V.mesh())
    bc = fd.DirichletBC(V, fd.sin(3 * x) + fd.exp(y), (1, 2, 3, 4))
    dec = DirichletDecoder(V, [bc])
    out = dec(1e3 * torch.randn(8, V.dim(), generator=rng, dtype=torch.float64))
    target = fd.Function(V)
    bc.apply(target)
    g_b = torch.tensor(target.dat.data_ro)[dec.boundary_dofs].expand(8, -1)
    assert _boundary_rel_err(out, dec, g_b) <= 1e-14
    # and the Firedrake Function satisfies the BC as Firedrake applies it
    for f in dec.decode(out):
        g = f.copy(deepcopy=True)
        bc.apply(g)
        assert fd.errornorm(f, g) <= 1e-14 * fd.norm(g)


def test_dirichlet_per_sample_data_exact(spaces, rng):
    V = spaces["scalar"]
    dec = DirichletDecoder(V, fd.DirichletBC(V, 0, "on_boundary"))
    g = torch.randn(5, V.dim(), generator=rng, dtype=torch.float64)
    out = dec(torch.randn(5, V.dim(), generator=rng, dtype=torch.float64), g)
    assert _boundary_rel_err(out, dec, g[:, dec.boundary_dofs]) <= 1e-14
    # boundary-only data
    gb = torch.randn(5, dec.n_boundary, generator=rng, dtype=torch.float64)
    out = dec(torch.randn(5, V.dim(), generator=rng, dtype=torch.float64), gb)
    assert _boundary_rel_err(out, dec, gb) <= 1e-14
    # interior untouched
    interior = ~dec.mask
    x = torch.randn(5, V.dim(), generator=rng, dtype=torch.float64)
    assert torch.equal(dec(x, gb)[:, interior], x[:, interior])


def test_dirichlet_vector_component_and_mixed(spaces, rng):
    V = spaces["vector"]
    bcs = [fd.DirichletBC(V, fd.as_vector([1.0, -2.0]), 1), fd.DirichletBC(V.sub(1), 3.0, 3)]
    dec = DirichletDecoder(V, bcs)
    out = dec(torch.randn(4, V.dim(), generator=rng, dtype=torch.float64))
    for f in dec.decode(out):
        g = f.copy(deepcopy=True)
        for bc in bcs:
            bc.apply(g)
        assert fd.errornorm(f, g) <= 1e-14 * fd.norm(g)
    W = spaces["mixed"]
    bc = fd.DirichletBC(W.sub(0), fd.as_vector([1.0, 0.0]), 4)
    dec = DirichletDecoder(W, [bc])
    out = dec(torch.randn(3, W.dim(), generator=rng, dtype=torch.float64))
    for f in dec.decode(out):
        g = f.copy(deepcopy=True)
        bc.apply(g)
        with f.dat.vec_ro as a, g.dat.vec_ro as b:
            assert (a.array_r == b.array_r).all()
    assert dec.n_boundary > 0 and dec.boundary_dofs.max() < W.sub(0).dim()


def _div_norm(u):
    return fd.assemble(fd.div(u) ** 2 * fd.dx) ** 0.5


@pytest.mark.parametrize("k", [1, 2])
def test_divergence_free_decoder_div_zero(mesh, rng, k):
    Q = fd.FunctionSpace(mesh, "CG", k)
    V = fd.FunctionSpace(mesh, "RT", k)
    dec = DivergenceFreeDecoder(Q, V)
    us = dec.decode(torch.randn(4, Q.dim(), generator=rng, dtype=torch.float64))
    for u in us:
        assert fd.norm(u) > 1.0  # not trivially zero
        assert _div_norm(u) <= 1e-10


def test_divergence_free_decoder_is_curl(mesh):
    Q, V = fd.FunctionSpace(mesh, "CG", 2), fd.FunctionSpace(mesh, "RT", 2)
    x, y = fd.SpatialCoordinate(mesh)
    psi = fd.Function(Q).interpolate(x**2 * y - y**2)
    from spon.fem import to_tensor
    u = DivergenceFreeDecoder(Q, V).decode(to_tensor(psi).reshape(1, -1))[0]
    assert fd.errornorm(fd.curl(psi), u) <= 1e-12


def test_divergence_free_no_flux_boundary(mesh, rng):
    Q, V = fd.FunctionSpace(mesh, "CG", 2), fd.FunctionSpace(mesh, "RT", 2)
    dec = DivergenceFreeDecoder(Q, V, bcs=fd.DirichletBC(Q, 0, "on_boundary"))
    n = fd.FacetNormal(mesh)
    for u in dec.decode(torch.randn(3, Q.dim(), generator=rng, dtype=torch.float64)):
        assert _div_norm(u) <= 1e-10
        assert fd.assemble(fd.dot(u, n) ** 2 * fd.ds) ** 0.5 <= 1e-10


def test_mixed_decoder_divergence_free_velocity_and_pressure(mesh, rng):
    Q, V, P = (fd.FunctionSpace(mesh, "CG", 2), fd.FunctionSpace(mesh, "RT", 2),
               fd.FunctionSpace(mesh, "DG", 1))
    W = V * P
    dec = MixedDecoder(W, [DivergenceFreeDecoder(Q, V), CoefficientDecoder(P)])
    x = torch.randn(2, Q.dim() + P.dim(), generator=rng, dtype=torch.float64)
    for w in dec.decode(x):
        assert _div_norm(w.subfunctions[0]) <= 1e-10
    w0 = dec.decode(x)[0]
    assert torch.equal(torch.tensor(w0.subfunctions[1].dat.data_ro), x[0, Q.dim():])


def test_harmonic_lifting_is_discrete_harmonic_and_exact(spaces, rng):
    from spon.fem import stiffness_matrix, spmv
    V = spaces["scalar"]
    x, y = fd.SpatialCoordinate(V.mesh())
    bc = fd.DirichletBC(V, x * x + fd.sin(4 * y), "on_boundary")
    dec = DirichletDecoder(V, bc, lifting="harmonic")
    # the lift agrees with Firedrake's solve of the Laplace problem
    u, v = fd.TrialFunction(V), fd.TestFunction(V)
    h = fd.Function(V)
    fd.solve(fd.inner(fd.grad(u), fd.grad(v)) * fd.dx == fd.Constant(0) * v * fd.dx, h, bcs=bc)
    assert torch.max(torch.abs(dec.lift - torch.tensor(h.dat.data_ro))) <= 1e-10
    # per-sample data: exact on the boundary, K-harmonic inside
    gb = torch.randn(3, dec.n_boundary, generator=rng, dtype=torch.float64)
    out = dec(torch.zeros(3, V.dim(), dtype=torch.float64), gb)
    assert torch.equal(out[:, dec.boundary_dofs], gb)
    res = spmv(stiffness_matrix(V), out)[:, ~dec.mask]
    assert res.abs().max() <= 1e-10 * gb.abs().max()


def test_harmonic_lifting_gradcheck(small_mesh):
    V = fd.FunctionSpace(small_mesh, "CG", 1)
    dec = DirichletDecoder(V, fd.DirichletBC(V, 0, "on_boundary"), lifting="harmonic")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, V.dim(), generator=g, dtype=torch.float64, requires_grad=True)
    gb = torch.randn(2, dec.n_boundary, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: dec(a, b), (x, gb))


def test_inverse_laplacian_interior_is_the_dirichlet_green_operator(spaces, rng):
    """u = D(s) solves -Δu = s (weakly, Galerkin) with u = g on the boundary, exactly."""
    V = spaces["scalar"]
    x, y = fd.SpatialCoordinate(V.mesh())
    bc = fd.DirichletBC(V, x + y, "on_boundary")
    dec = DirichletDecoder(V, bc, lifting="harmonic", interior="inverse_laplacian")
    s = torch.randn(2, V.dim(), generator=rng, dtype=torch.float64)
    for si, u in zip(s, dec.decode(s)):
        src = fd.Function(V)
        src.dat.data[:] = si.numpy()
        want = fd.Function(V)
        w, v = fd.TrialFunction(V), fd.TestFunction(V)
        fd.solve(fd.inner(fd.grad(w), fd.grad(v)) * fd.dx == src * v * fd.dx, want, bcs=bc)
        assert fd.errornorm(want, u) <= 1e-9 * fd.norm(want)
    out = dec(s)
    target = torch.tensor(fd.Function(V).interpolate(x + y).dat.data_ro)[dec.boundary_dofs]
    assert torch.equal(out[:, dec.boundary_dofs], target.expand(2, -1))


def test_divergence_free_spec_model_is_exact_after_a_float32_round_trip():
    """A model trained in float32 and cast to float64 holds the exact discrete curl again:
    the curl is recast from its float64 original, so div u = 0 to float64 round-off."""
    from spon.mesh import MeshSpec
    from spon.models import build_spon
    ms = MeshSpec("unit_square", 0.3, 1)
    m = build_spon({"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 1, "shape": [2]},
                    "output": {"family": "RT", "degree": 2}, "encoder": "l2",
                    "decoder": {"kind": "divergence_free", "no_flux": True},
                    "processor": {"kind": "graph", "width": 8, "layers": 1}, "dtype": "float32"})
    assert m.decoder.C.dtype == torch.float32
    m.double()
    x = torch.randn(2, m.encoder.U.dim(), dtype=torch.float64)
    n = fd.FacetNormal(m.decoder.V.mesh())
    with torch.no_grad():
        for u in m(x, as_functions=True):
            assert fd.norm(fd.div(u)) <= 1e-12 * fd.norm(u)
            assert fd.assemble(fd.dot(u, n) ** 2 * fd.ds) ** 0.5 <= 1e-12 * fd.norm(u)


def _elasticity_case():
    """Linear elasticity (E = 1, ν = 0.3) clamped on boundary 1: mesh spec, problem, 3 body forces, solutions."""
    from spon.data import ElasticityProblem
    from spon.mesh import MeshSpec
    E, nu = 1.0, 0.3
    ms = MeshSpec("unit_square", 0.3, 1)
    prob = ElasticityProblem(ms, youngs=E, poisson=nu, clamp=1)
    f = prob.sample_inputs(3, seed=0).reshape(3, -1)
    return ms, prob, f, prob.solve(f, progress=False), E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))


def test_inverse_elasticity_decoder_is_the_discrete_green_operator():
    """interior 'inverse_elasticity': decoding the body force itself gives the FE solution of
    linear elasticity (the clamped DOFs exactly zero); a float32 model holds G exactly again in float64."""
    from spon.fem import FENorm
    from spon.models import build_spon
    ms, prob, f, u, mu, lmbda = _elasticity_case()
    m = build_spon({"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 1, "shape": [2]},
                    "output": {"family": "CG", "degree": 1, "shape": [2]}, "encoder": "l2",
                    "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": [1], "interior": "inverse_elasticity",
                                "mu": mu, "lmbda": lmbda},
                    "processor": {"kind": "mg", "width": 4, "coarse_width": 4, "smooth": 1, "coarse_layers": 1,
                                  "linear_skip": True}, "dtype": "float32"}).double()
    got = m.decoder(f).reshape(3, -1)
    assert FENorm(prob.output_space).relative_error(got, u).max() < 1e-10
    assert got[:, m.decoder.boundary_dofs].abs().max() == 0
    # with the processor's linear skip (identity at start, V-cycle at zero) the untrained model is that solve
    with torch.no_grad():
        assert FENorm(prob.output_space).relative_error(m(f).reshape(3, -1), u).max() < 1e-10


def test_inverse_elasticity_encoder_is_the_linear_elastic_solve():
    """encoder 'inverse_elasticity': the encoded body force is the FE solution of linear
    elasticity (clamped DOFs zero), so an identity-start processor predicts that solve, and
    the Dirichlet decoder keeps the clamp whatever the processor does."""
    from spon.fem import FENorm
    from spon.models import build_spon
    ms, prob, f, u, mu, lmbda = _elasticity_case()
    m = build_spon({"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 1, "shape": [2]},
                    "output": {"family": "CG", "degree": 1, "shape": [2]},
                    "encoder": {"kind": "inverse_elasticity", "mu": mu, "lmbda": lmbda},
                    "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": [1]},
                    "processor": {"kind": "mg", "width": 4, "coarse_width": 4, "smooth": 1, "coarse_layers": 1,
                                  "linear_skip": True}, "dtype": "float32"}).double()
    norm = FENorm(prob.output_space)
    assert norm.relative_error(m.encoder(f), u).max() < 1e-10
    with torch.no_grad():
        assert norm.relative_error(m(f).reshape(3, -1), u).max() < 1e-10
        for p in m.processor.parameters():     # any processor: the clamp holds
            p.add_(torch.randn_like(p))
        assert m(f).reshape(3, -1)[:, m.decoder.boundary_dofs].abs().max() == 0
    with pytest.raises(ValueError, match="'inverse_elasticity' needs a Dirichlet decoder"):
        build_spon({**m.spec, "decoder": {"kind": "coefficients"}})


def test_force_correction_model_starts_as_the_linear_elastic_solve():
    """encoder 'inverse_elasticity' with_source and the Green decoder: the encoder gives (f, u_L / gain) node by
    node, the processor's skip passes f through, so the untrained model is linear elasticity; the clamp holds."""
    from spon.fem import FENorm
    from spon.models import build_spon
    ms, prob, f, u, mu, lmbda = _elasticity_case()
    green = {"mu": mu, "lmbda": lmbda}
    m = build_spon({"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 1, "shape": [2]},
                    "output": {"family": "CG", "degree": 1, "shape": [2]},
                    "encoder": {"kind": "inverse_elasticity", "with_source": True, **green},
                    "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": [1], "interior": "inverse_elasticity",
                                **green},
                    "processor": {"kind": "graph", "width": 4, "layers": 1, "linear_skip": True},
                    "dtype": "float64"})
    e = m.encoder(f).reshape(3, -1, 4)
    assert torch.equal(e[..., :2].reshape(3, -1), f)         # one element on one mesh: no projection
    norm = FENorm(prob.output_space)
    assert norm.relative_error(e[..., 2:].reshape(3, -1) * m.encoder.gain, u).max() < 1e-10
    assert m.processor.starts_as_identity
    m.input_scale.fill_(0.5)
    m.output_scale.fill_(0.5)
    with torch.no_grad():
        assert norm.relative_error(m(f).reshape(3, -1), u).max() < 1e-10
        for p in m.processor.parameters():
            p.add_(torch.randn_like(p))
        assert m(f).reshape(3, -1)[:, m.decoder.boundary_dofs].abs().max() == 0
    with pytest.raises(ValueError, match=r"with_source'\]: expected true or false"):
        build_spon({**m.spec, "encoder": {**m.spec["encoder"], "with_source": "yes"}})
