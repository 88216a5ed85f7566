import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")  # pytest's argv is not for PETSc

import firedrake as fd  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from spon.mesh import gmsh_mesh  # noqa: E402


@pytest.fixture(scope="session")
def mesh():
    """An unstructured gmsh mesh of the unit square (boundary ids 1-4)."""
    return gmsh_mesh("unit_square", h=0.15, name="square_h015")


@pytest.fixture(scope="session")
def small_mesh():
    """A tiny mesh for gradcheck."""
    return gmsh_mesh("unit_square", h=0.4, name="square_h04")


@pytest.fixture(scope="session")
def spaces(mesh):
    P2 = fd.VectorFunctionSpace(mesh, "CG", 2)
    P1 = fd.FunctionSpace(mesh, "CG", 1)
    return {
        "scalar": fd.FunctionSpace(mesh, "CG", 2),
        "vector": fd.VectorFunctionSpace(mesh, "CG", 1),
        "tensor": fd.TensorFunctionSpace(mesh, "CG", 1),
        "dg": fd.FunctionSpace(mesh, "DG", 1),
        "mixed": P2 * P1,
    }


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(1234)


def random_function(V, seed=0):
    """A Function on V with random coefficients (deterministic in seed)."""
    f = fd.Function(V)
    g = torch.Generator().manual_seed(seed)
    with f.dat.vec_wo as v:
        v.array[:] = torch.randn(v.array.shape[0], generator=g, dtype=torch.float64).numpy()
    return f


# Newton's order estimates come from its first iterations, still pre-asymptotic:
# measured 1.68 (macro, both solves) and 1.79 (cell problem) on the way to 2. A
# Jacobian that is not the exact linearisation converges linearly, order 1.
NEWTON_ORDER = 1.5


def newton_order(res, floor=1e-12):
    """The largest estimate ``p_k = log(r_{k+1}/r_k) / log(r_k/r_{k-1})`` of the order of
    convergence of a residual history, over the iterations whose residual stays above
    round-off (``floor · r_0``): 2 for Newton in its basin, 1 for a linear iteration."""
    r = np.asarray(res, dtype=float) / res[0]
    p = [np.log(r[k + 1] / r[k]) / np.log(r[k] / r[k - 1]) for k in range(1, len(r) - 1)
         if r[k + 1] > floor and r[k] < r[k - 1]]
    assert p, f"too few iterations above round-off to estimate an order: {list(res)}"
    return max(p)


def pytest_addoption(parser):
    parser.addoption("--built-docs", default=None,
                     help="a built HTML tree (doc/_build/html) to check; `make docs` passes it")


@pytest.fixture(scope="session")
def built_docs(request):
    from pathlib import Path
    path = request.config.getoption("--built-docs")
    if path is None:
        pytest.skip("no --built-docs given (`make docs` checks the pages it built)")
    path = Path(path)
    if not (path / "index.html").is_file():
        pytest.fail(f"--built-docs: {path} holds no index.html")
    return path


def taylor_orders(functional, u, data=(), seed=0, du_scale=1.0, h0=1e-1):
    """Per-sample convergence orders of |J(u+hδ) - J(u) - h dJ·δ| for h = 2^-k."""
    g = torch.Generator().manual_seed(seed)
    u = u.clone().requires_grad_(True)
    J = functional(u, *data)
    (grad,) = torch.autograd.grad(J.sum(), u)  # J_b depends on u_b only: per-sample gradients
    du = du_scale * torch.randn(u.shape, generator=g, dtype=u.dtype)
    hs = [h0 / 2 ** k for k in range(4)]
    with torch.no_grad():
        res = np.array([(functional(u + h * du, *data) - J - h * (grad * du).sum(1)).abs().numpy() for h in hs])
    return np.log2(res[:-1] / res[1:])  # (3, B)
