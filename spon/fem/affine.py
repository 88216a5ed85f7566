"""Operators affine in a cell-wise constant coefficient: ``A(κ) = A₀ + Σ_c κ_c A_c``.

For a bilinear form affine in a DG0 coefficient κ, every nonzero of the
assembled matrix is an affine function of κ: ``vals(κ) = B κ + d``. ``B`` is
built from a handful of Firedrake assemblies, one per colour of a cell
colouring in which no two cells of one colour share a DOF: with κ the
indicator of one colour, each matrix entry receives the contribution of at most
one cell, so it can be attributed to that cell. Dirichlet rows and columns are
applied the way Firedrake applies them (zeroed, 1 on the diagonal).

After that a new κ costs one sparse product instead of an assembly, which is
what data generation for a varying coefficient needs.
"""
from __future__ import annotations

import firedrake as fd
import numpy as np
import scipy.sparse as sp

from firedrake.petsc import PETSc

from .checks import check_serial

__all__ = ["CellwiseAffineMatrix", "cell_colouring", "cell_average_matrix"]


def cell_colouring(cell_nodes: np.ndarray) -> np.ndarray:
    """Greedy colouring of the cells so that no two cells of one colour share a node."""
    n_nodes = int(cell_nodes.max()) + 1
    node_colours = [set() for _ in range(n_nodes)]
    colour = np.empty(len(cell_nodes), dtype=np.int64)
    for e, nodes in enumerate(cell_nodes):
        used = set().union(*(node_colours[i] for i in nodes))
        c = 0
        while c in used:
            c += 1
        colour[e] = c
        for i in nodes:
            node_colours[i].add(c)
    return colour


def cell_average_matrix(K_coarse, K_fine) -> sp.csr_matrix:
    """``(coarse cells × fine cells)``: the mean of a DG0 field over each coarse
    cell's children, for two levels of a uniformly refined ``MeshHierarchy``
    (children have equal areas)."""
    P = fd.assemble(fd.interpolate(fd.TrialFunction(K_coarse), K_fine), mat_type="aij").petscmat
    ip, ix, v = P.getValuesCSR()
    P = sp.csr_matrix((v, ix, ip), shape=P.getSize())      # fine × coarse, one 1 per row
    R = P.T.tocsr()
    children = np.asarray(R.sum(axis=1)).ravel()
    if children.min() < 1:
        raise ValueError("K_coarse: a coarse cell has no children in K_fine (not nested levels?)")
    return sp.diags(1.0 / children) @ R


class CellwiseAffineMatrix:
    """``A(κ)`` for ``form(κ)``, a bilinear form on ``V`` linear in ``κ ∈ K = DG0``.

    Parameters
    ----------
    form : callable ``κ ↦ a(κ; u, v)``, a UFL bilinear form on ``V`` affine in κ
    K : the DG0 space of κ
    V : the space of the form's trial and test functions
    bcs : Dirichlet conditions, applied as Firedrake applies them to matrices
    kappa_map : scipy sparse ``(K.dim(), n)``, optional: κ is ``kappa_map @ κ_in``
        for an input ``κ_in`` of length ``n`` (for example the cell averages of a
        finer level's κ), and :meth:`values` takes ``κ_in``

    Attributes
    ----------
    mat : the PETSc matrix (Firedrake's sparsity), refilled by :meth:`update`
    B : scipy CSR ``(nnz, K.dim())`` and ``d`` ``(nnz,)``: the nonzero values are ``B κ + d``
    colours : the number of assemblies it took

    Examples
    --------
    >>> import firedrake as fd, numpy as np
    >>> mesh = fd.UnitSquareMesh(3, 3)
    >>> K, V = fd.FunctionSpace(mesh, "DG", 0), fd.FunctionSpace(mesh, "CG", 1)
    >>> a = lambda k: k * fd.inner(fd.grad(fd.TrialFunction(V)), fd.grad(fd.TestFunction(V))) * fd.dx
    >>> A = CellwiseAffineMatrix(a, K, V, bcs=[fd.DirichletBC(V, 0, "on_boundary")])
    >>> kappa = fd.Function(K).assign(2.0)
    >>> ref = fd.assemble(a(kappa), bcs=A.bcs).petscmat.getValuesCSR()[2]
    >>> bool(np.allclose(A.values(kappa.dat.data_ro), ref, rtol=0, atol=1e-13))
    True
    """

    def __init__(self, form, K, V, bcs=(), kappa_map=None):
        check_serial(V, "V")
        if K.ufl_element().family() not in ("Discontinuous Lagrange", "DQ") or K.ufl_element().degree() != 0:
            raise ValueError(f"K: expected a DG0 space, got {K.ufl_element()}")
        if K.mesh() is not V.mesh():
            raise ValueError("K: expected a space on the mesh of V")
        self.K, self.V, self.bcs = K, V, list(bcs)
        kappa = fd.Function(K)
        self._form = form(kappa)
        template = fd.assemble(self._form, bcs=self.bcs, mat_type="aij").petscmat
        ip, ix, vals = template.getValuesCSR()
        self.indptr, self.indices = ip.astype(np.int64), ix.astype(np.int64)
        n = V.dim()
        rows = np.repeat(np.arange(n), np.diff(self.indptr))
        keys = rows * n + self.indices                     # sorted: CSR rows, then sorted columns
        cell_nodes = V.cell_node_list
        cell_kappa = K.cell_node_list[:, 0]
        colour = cell_colouring(cell_nodes)
        self.colours = int(colour.max()) + 1
        p = cell_nodes.shape[1]
        kappa.dat.data[:] = 0.0
        vals0 = fd.assemble(self._form, mat_type="aij").petscmat.getValuesCSR()[2]    # A₀ = A(0)
        bi, bj, bv = [], [], []
        for c in range(self.colours):
            cells = np.flatnonzero(colour == c)
            kappa.dat.data[:] = 0.0
            kappa.dat.data[cell_kappa[cells]] = 1.0
            vals = fd.assemble(self._form, mat_type="aij").petscmat.getValuesCSR()[2]
            r = np.repeat(cell_nodes[cells], p, axis=1).ravel()
            s = np.tile(cell_nodes[cells], (1, p)).ravel()
            pos = np.searchsorted(keys, r * n + s)
            if not np.array_equal(keys[pos], r * n + s):
                raise RuntimeError("the assembled sparsity misses a cell's DOF pair")
            bi.append(pos)
            bj.append(np.repeat(cell_kappa[cells], p * p))
            bv.append(vals[pos] - vals0[pos])
        bi, bj, bv = np.concatenate(bi), np.concatenate(bj), np.concatenate(bv)
        self.d = vals0.copy()
        if self.bcs:
            fixed = np.zeros(n, dtype=bool)
            for bc in self.bcs:
                fixed[bc.nodes] = True
            on_bc = fixed[rows] | fixed[self.indices]
            bv = np.where(on_bc[bi], 0.0, bv)
            self.d[on_bc] = 0.0
            self.d[on_bc & (rows == self.indices)] = 1.0
        self.B = sp.csr_matrix((bv, (bi, bj)), shape=(len(keys), K.dim()))
        self.B.sum_duplicates()
        self.kappa_map = None
        if kappa_map is not None:
            if kappa_map.shape[0] != K.dim():
                raise ValueError(f"kappa_map: expected {K.dim()} rows (K.dim()), got {kappa_map.shape[0]}")
            self.kappa_map = sp.csr_matrix(kappa_map)     # applied first: cheaper than B @ kappa_map
        self.n_in = K.dim() if kappa_map is None else kappa_map.shape[1]
        # PETSc works on this array in place: update() refills it, no copy, no MatSetValues
        self._vals = vals
        self.mat = PETSc.Mat().createAIJWithArrays(template.getSize(), (ip, ix, self._vals), comm=template.comm)

    def values(self, kappa: np.ndarray) -> np.ndarray:
        """The nonzero values of ``A(κ)`` in CSR order (``indptr``, ``indices``)."""
        kappa = np.asarray(kappa, dtype=float)
        if kappa.shape != (self.n_in,):
            raise ValueError(f"kappa: expected shape ({self.n_in},), got {kappa.shape}")
        if self.kappa_map is not None:
            kappa = self.kappa_map @ kappa
        return self.B @ kappa + self.d

    def update(self, kappa: np.ndarray):
        """Refill :attr:`mat` with ``A(κ)`` in place; returns it."""
        self._vals[:] = self.values(kappa)
        self.mat.assemble()                                # marks the values as changed for KSP/PC
        return self.mat
