"""Random fields, problem generators and datasets."""
import firedrake as fd
import h5py
import numpy as np
import pytest
import torch

from spon.data import DarcyProblem, ElasticityProblem, FEDataset, MaternGRF, PoissonProblem, generate_dataset
from spon.mesh import MeshSpec, gmsh_mesh


@pytest.fixture(scope="module")
def grf_space():
    return fd.FunctionSpace(gmsh_mesh("unit_square", 0.025, name="grf_mesh"), "CG", 1)


@pytest.mark.parametrize("nu", [1.0, 3.0])
def test_grf_variance_and_correlation_length(grf_space, nu):
    """Away from the (Neumann) boundary the sample variance is σ² and the correlation
    at distance ρ is the Matérn value there (≈ 0.14), within sampling error."""
    V, rho, sigma2, n = grf_space, 0.1, 2.0, 600
    grf = MaternGRF(V, length_scale=rho, smoothness=nu, variance=sigma2)
    S = grf.sample(n, seed=3).numpy()
    X = fd.Function(fd.VectorFunctionSpace(V.mesh(), "CG", 1)).interpolate(
        fd.SpatialCoordinate(V.mesh())).dat.data_ro
    inner = np.all((X > 0.3) & (X < 0.7), axis=1)
    var = S[:, inner].var(axis=0).mean()
    # ~16 independent patches of size ρ² in the box, n samples each
    se = sigma2 * np.sqrt(2.0 / (n * 16))
    assert abs(var - sigma2) < 4 * se + 0.03 * sigma2, (var, se)
    rng = np.random.default_rng(0)
    i, j = rng.choice(np.where(inner)[0], 4000), rng.choice(V.dim(), 4000)
    r = np.linalg.norm(X[i] - X[j], axis=1)
    sel = np.abs(r - rho) < 0.01
    corr = np.mean([np.corrcoef(S[:, a], S[:, b])[0, 1] for a, b in zip(i[sel], j[sel])])
    assert abs(corr - grf.correlation(rho)) < 0.04, (corr, grf.correlation(rho))
    assert abs(grf.correlation(rho) - 0.14) < 0.01


def test_grf_is_seeded(grf_space):
    grf = MaternGRF(grf_space, 0.2)
    assert torch.equal(grf.sample(2, seed=5), grf.sample(2, seed=5))
    assert not torch.equal(grf.sample(2, seed=5), grf.sample(2, seed=6))


def test_grf_bad_parameters(grf_space):
    with pytest.raises(ValueError, match=r"smoothness: expected ν with ν \+ d/2 an even integer"):
        MaternGRF(grf_space, 0.1, smoothness=2.0)
    with pytest.raises(ValueError, match=r"length_scale: expected a positive finite number"):
        MaternGRF(grf_space, -0.1)
    with pytest.raises(ValueError, match=r"variance: expected a positive finite number"):
        MaternGRF(grf_space, 0.1, variance=float("nan"))


def test_darcy_recipe_and_solution(tmp_path):
    prob = DarcyProblem(MeshSpec("unit_square", 0.2, 1))
    k = prob.sample_inputs(3, seed=0)
    assert set(torch.unique(k).tolist()) == {3.0, 12.0}
    u = prob.solve(k, progress=False)
    # u = 0 on the boundary, positive inside (f = 1 > 0: maximum principle)
    assert torch.all(u[:, prob.bcs[0].nodes] == 0)
    assert torch.all(u >= -1e-12) and torch.all(u.max(dim=1).values > 0)
    # the discrete equation holds: residual of the weak form at the solution
    kf, uf = fd.Function(prob.input_space), fd.Function(prob.output_space)
    kf.dat.data[:] = k[1].numpy()
    uf.dat.data[:] = u[1].numpy()
    v = fd.TestFunction(prob.output_space)
    r = fd.assemble(kf * fd.inner(fd.grad(uf), fd.grad(v)) * fd.dx - v * fd.dx)
    interior = np.setdiff1d(np.arange(prob.output_space.dim()), prob.bcs[0].nodes)
    assert np.abs(r.dat.data_ro[interior]).max() < 1e-10


def test_darcy_amg_solver_agrees_with_lu():
    """CG + GAMG (the fast path for large meshes) gives the LU solution to its tolerance."""
    ms = MeshSpec("unit_square", 0.1, 1)
    lu, amg = DarcyProblem(ms), DarcyProblem(ms, solver="amg")
    k = lu.sample_inputs(3, seed=5)
    u_lu, u_amg = lu.solve(k, progress=False), amg.solve(k, progress=False)
    assert (u_amg - u_lu).abs().max() < 1e-8 * u_lu.abs().max()
    assert amg.metadata()["params"]["solver"] == "amg"
    with pytest.raises(ValueError, match="solver: expected one of"):
        DarcyProblem(ms, solver="jacobi")


def test_darcy_multigrid_solver_agrees_with_lu():
    """Refilled operators + geometric multigrid CG give the LU solution to 1e-10 relative
    residual, in a number of iterations that does not grow with the mesh."""
    its = []
    for refinements in (1, 2):
        ms = MeshSpec("unit_square", 0.2, refinements)
        lu, mg = DarcyProblem(ms), DarcyProblem(ms, solver="mg")
        k = lu.sample_inputs(3, seed=5)
        u_lu, u_mg = lu.solve(k, progress=False), mg.solve(k, progress=False)
        assert (u_mg - u_lu).abs().max() < 1e-9 * u_lu.abs().max()
        its.append(max(mg._solver.gmg.iterations))
    assert its[1] <= its[0] + 2 and its[1] < 20, its
    with pytest.raises(ValueError, match="solver: 'mg' needs a mesh hierarchy"):
        DarcyProblem(MeshSpec("unit_square", 0.2, 0), solver="mg")


def test_poisson_generator_manufactured_convergence():
    """The Poisson generator's solver converges at O(h²) in L² for a known source."""
    errs = []
    for refinements in (0, 1, 2):
        prob = PoissonProblem(MeshSpec("unit_square", 0.2, refinements))
        V = prob.input_space
        x, y = fd.SpatialCoordinate(V.mesh())
        exact = fd.sin(np.pi * x) * fd.sin(np.pi * y)
        f = fd.Function(V).interpolate(2 * np.pi ** 2 * exact)
        u = prob.solve(torch.tensor(f.dat.data_ro).reshape(1, -1), progress=False)
        uf = fd.Function(V)
        uf.dat.data[:] = u[0].numpy()
        errs.append(fd.errornorm(exact, uf))
    rates = np.log2(np.array(errs[:-1]) / errs[1:])
    assert rates.min() > 1.8, (errs, rates)


@pytest.mark.parametrize("mode", ["body_force", "youngs_modulus"])
def test_elasticity_generator_on_plate_with_hole(mode):
    prob = ElasticityProblem(MeshSpec("plate_with_hole", 0.15), mode=mode)
    x = prob.sample_inputs(2, seed=1)
    if mode == "youngs_modulus":
        assert torch.all(x > 0)
    u = prob.solve(x, progress=False)
    assert u.shape == (2, prob.output_space.dim())
    assert torch.all(u.reshape(2, -1, 2)[:, prob.bcs[0].nodes] == 0)
    assert u.abs().max() > 0


def test_dataset_round_trip(tmp_path):
    prob = DarcyProblem(MeshSpec("unit_square", 0.25, 1))
    path = generate_dataset(prob, 4, tmp_path / "darcy.h5", seed=2, progress=False)
    ds = FEDataset(path)
    x, y = ds[1]
    assert len(ds) == 4 and x.shape == (prob.input_space.dim(),) and y.shape == (prob.output_space.dim(),)
    assert torch.equal(ds.inputs, prob.sample_inputs(4, seed=2))
    assert ds.meta["problem"] == "darcy" and ds.meta["mesh"]["refinements"] == 1
    ds.check_spaces(prob.input_space, prob.output_space)
    with pytest.raises(ValueError, match=r"output_space: expected a space with"):
        ds.check_spaces(prob.input_space, fd.FunctionSpace(prob.mesh, "CG", 2))
    assert [p.name for p in tmp_path.iterdir()] == ["darcy.h5"]  # no temporary left behind


def test_dataset_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path: expected an spon HDF5 dataset"):
        FEDataset(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match=r"path: .* is not a readable spon dataset"):
        FEDataset(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"is not an spon dataset"):
        FEDataset(tmp_path / "other.h5")


def test_dataset_refuses_nan(tmp_path):
    from spon.data import write_dataset
    x = torch.zeros(2, 3, dtype=torch.float64)
    y = x.clone()
    y[1, 2] = float("inf")
    with pytest.raises(ValueError, match=r"outputs: expected finite values"):
        write_dataset(tmp_path / "bad.h5", x, y, {})
    assert not list(tmp_path.iterdir())


def test_elasticity_generator_manufactured_convergence():
    """Body-force mode, clamped all round: O(h²) L² convergence to a manufactured solution."""
    errs = []
    E, nu = 1.0, 0.3
    mu, lmbda = E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))
    for refinements in (0, 1, 2):
        prob = ElasticityProblem(MeshSpec("unit_square", 0.2, refinements), mode="body_force",
                                 youngs=E, poisson=nu, clamp="on_boundary")
        x, y = fd.SpatialCoordinate(prob.mesh)
        exact = fd.as_vector([fd.sin(np.pi * x) * fd.sin(np.pi * y), x * (1 - x) * y * (1 - y)])
        eps = fd.sym(fd.grad(exact))
        sigma = 2 * mu * eps + lmbda * fd.tr(eps) * fd.Identity(2)
        f = fd.Function(prob.input_space).interpolate(-fd.div(sigma))
        u = prob.solve(torch.tensor(f.dat.data_ro).reshape(1, -1), progress=False)
        uf = fd.Function(prob.output_space)
        uf.dat.data[:] = u[0].numpy().reshape(-1, 2)
        errs.append(fd.errornorm(exact, uf))
    rates = np.log2(np.array(errs[:-1]) / errs[1:])
    assert rates.min() > 1.8, (errs, rates)


def test_poisson_generator_on_l_shape():
    prob = PoissonProblem(MeshSpec("l_shape", 0.2))
    u = prob.solve(prob.sample_inputs(2, seed=0), progress=False)
    assert torch.all(u[:, prob.bcs[0].nodes] == 0) and u.abs().max() > 0
    X = fd.Function(fd.VectorFunctionSpace(prob.mesh, "CG", 1)).interpolate(
        fd.SpatialCoordinate(prob.mesh)).dat.data_ro
    assert not np.any((X[:, 0] > 1e-9) & (X[:, 1] < -1e-9))  # the cut-out quadrant is not meshed
