"""Operators affine in a cell-wise coefficient: the refilled matrix is the assembled one."""
import firedrake as fd
import numpy as np
import pytest

from spon.fem.affine import CellwiseAffineMatrix, cell_average_matrix, cell_colouring
from spon.mesh import MeshSpec, build_hierarchy


@pytest.fixture(scope="module")
def levels():
    meshes = build_hierarchy(MeshSpec("l_shape", 0.4, 1))
    return [(fd.FunctionSpace(m, "DG", 0), fd.FunctionSpace(m, "CG", 2)) for m in meshes]


def _form(V):
    u, v = fd.TrialFunction(V), fd.TestFunction(V)
    return lambda k: k * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx + u * v * fd.dx


def test_colouring_separates_cells_that_share_a_node(levels):
    _, V = levels[-1]
    nodes = V.cell_node_list
    colour = cell_colouring(nodes)
    for c in range(colour.max() + 1):
        shared = nodes[colour == c].ravel()
        assert len(np.unique(shared)) == len(shared)


def test_refilled_matrix_equals_assembly_with_bcs(levels):
    K, V = levels[-1]
    bcs = [fd.DirichletBC(V, 0.0, 1)]
    A = CellwiseAffineMatrix(_form(V), K, V, bcs)
    kappa = fd.Function(K)
    rng = np.random.default_rng(0)
    for _ in range(2):
        kappa.dat.data[:] = rng.uniform(1, 10, K.dim())
        ref = fd.assemble(_form(V)(kappa), bcs=bcs, mat_type="aij").petscmat
        A.update(kappa.dat.data_ro)
        x = ref.createVecRight()
        x.setRandom()
        y, y_ref = ref.createVecLeft(), ref.createVecLeft()
        A.mat.mult(x, y)
        ref.mult(x, y_ref)
        assert (y - y_ref).norm() < 1e-13 * y_ref.norm()
    with pytest.raises(ValueError, match="kappa: expected shape"):
        A.values(np.ones(3))
    with pytest.raises(ValueError, match="K: expected a DG0 space"):
        CellwiseAffineMatrix(_form(V), V, V)


def test_coarse_operator_of_averaged_coefficient(levels):
    (Kc, Vc), (Kf, _) = levels
    avg = cell_average_matrix(Kc, Kf)
    assert np.allclose(avg @ np.ones(Kf.dim()), 1.0)
    A = CellwiseAffineMatrix(_form(Vc), Kc, Vc, kappa_map=avg)
    kf = np.random.default_rng(1).uniform(1, 10, Kf.dim())
    kc = fd.Function(Kc)
    kc.dat.data[:] = avg @ kf
    ref = fd.assemble(_form(Vc)(kc), mat_type="aij").petscmat.getValuesCSR()[2]
    assert np.abs(A.values(kf) - ref).max() < 1e-13 * np.abs(ref).max()
