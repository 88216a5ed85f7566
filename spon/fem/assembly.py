"""The one place where spon asks Firedrake to assemble matrices.

Each function returns a coalesced float64 COO tensor on the CPU, assembled once
per set of spaces and cached; modules copy the result into buffers.
"""
from __future__ import annotations

import firedrake as fd
import ufl

from .checks import check_serial
from .sparse import petsc_to_torch

__all__ = ["mass_matrix", "stiffness_matrix", "mixed_mass_matrix", "interpolation_matrix",
           "curl_matrix", "clear_cache", "gradient_matrices", "quadrature_gradient",
           "quadrature_values", "interior_penalty_matrix"]

_cache: dict = {}


def _cached(key, spaces, build):
    k = (key,) + tuple(id(V) for V in spaces)
    hit = _cache.get(k)
    if hit is None:
        for i, V in enumerate(spaces):
            check_serial(V, f"spaces[{i}]")
        hit = _cache[k] = (spaces, build())  # holding the spaces keeps ids unique
    return hit[1]


def clear_cache():
    _cache.clear()


def _pairs(u, v):
    return zip(ufl.split(u), ufl.split(v)) if len(u.function_space()) > 1 else [(u, v)]


def mass_matrix(V):
    """``M_ij = ∫ φ_j · φ_i dx`` (all components; mixed spaces blockwise)."""
    def build():
        u, v = fd.TrialFunction(V), fd.TestFunction(V)
        a = sum(fd.inner(p, q) * fd.dx for p, q in _pairs(u, v))
        return petsc_to_torch(fd.assemble(a, mat_type="aij"))
    return _cached("mass", (V,), build)


def stiffness_matrix(V):
    """``K_ij = ∫ ∇φ_j : ∇φ_i dx``, the H¹-seminorm Gram matrix."""
    def build():
        u, v = fd.TrialFunction(V), fd.TestFunction(V)
        a = sum(fd.inner(fd.grad(p), fd.grad(q)) * fd.dx for p, q in _pairs(u, v))
        return petsc_to_torch(fd.assemble(a, mat_type="aij"))
    return _cached("stiffness", (V,), build)


def interior_penalty_matrix(V, nu: float = 1.0, alpha: float = 10.0):
    """``−νΔ`` on the broken gradient of ``V`` (e.g. RT or BDM): symmetric interior penalty,
    ``σ = α k² / h`` on interior facets, and ``u = 0`` on ∂Ω by Nitsche's method (the same
    penalty). SPD for ``α`` large enough; consistent for smooth ``u`` vanishing on ∂Ω."""
    def build():
        u, v = fd.TrialFunction(V), fd.TestFunction(V)
        mesh = V.mesh()
        n, h = fd.FacetNormal(mesh), fd.CellDiameter(mesh)
        sigma = fd.Constant(alpha * V.ufl_element().embedded_superdegree ** 2)

        def jump_t(w):                                  # [[w ⊗ n]]
            return fd.outer(w("+"), n("+")) + fd.outer(w("-"), n("-"))

        h_f = (h("+") + h("-")) / 2
        a = (fd.inner(fd.grad(u), fd.grad(v)) * fd.dx
             - fd.inner(fd.avg(fd.grad(u)), jump_t(v)) * fd.dS - fd.inner(jump_t(u), fd.avg(fd.grad(v))) * fd.dS
             + sigma / h_f * fd.inner(jump_t(u), jump_t(v)) * fd.dS
             - fd.inner(fd.dot(fd.grad(u), n), v) * fd.ds - fd.inner(u, fd.dot(fd.grad(v), n)) * fd.ds
             + sigma / h * fd.inner(u, v) * fd.ds)
        return petsc_to_torch(fd.assemble(fd.Constant(nu) * a, mat_type="aij"))
    return _cached(("interior_penalty", float(nu), float(alpha)), (V,), build)


def gradient_matrices(V):
    """``G[a][b]_ij = ∫ ∂_b φ_j ∂_a φ_i dx`` for a scalar space ``V``: the ``d²`` geometric couplings
    from which any constant-coefficient second-order operator's stiffness is a linear combination
    (the Laplacian's is ``Σ_a G[a][a]``). Same sparsity as :func:`mass_matrix`."""
    def build():
        u, v = fd.TrialFunction(V), fd.TestFunction(V)
        d = V.mesh().geometric_dimension
        return [[petsc_to_torch(fd.assemble(u.dx(b) * v.dx(a) * fd.dx, mat_type="aij")) for b in range(d)]
                for a in range(d)]
    return _cached("gradients", (V,), build)


def green_matrix(V, operator, on_boundary, source: str = "field"):
    """Dense ``(dim, dim)`` Green's operator of the SPD form ``operator(u, v)`` with zero
    Dirichlet data on the DOFs where ``on_boundary`` (a boolean array) is true:
    ``x ↦ K_II⁻¹ (M x)_I`` on the interior DOFs, 0 on the boundary. One sparse
    factorisation, so for spaces of up to 20 000 DOFs. ``source="load"`` takes an
    assembled load vector instead of a field: ``b ↦ K_II⁻¹ b_I``.
    """
    import numpy as np
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla
    import torch

    n = V.dim()
    if n > 20000:
        raise ValueError(f"V: a Green's operator is kept as a dense {n}x{n} matrix; expected at most 20000 DOFs")
    u, v = fd.TrialFunction(V), fd.TestFunction(V)

    def csr(form):
        A = fd.assemble(form, mat_type="aij").petscmat
        indptr, indices, vals = A.getValuesCSR()
        return sp.csr_matrix((vals, indices, indptr), shape=A.getSize())

    K, M = csr(operator(u, v)), csr(fd.inner(u, v) * fd.dx)
    inner = np.flatnonzero(~np.asarray(on_boundary))
    G = np.zeros((n, n))
    if source not in ("field", "load"):
        raise ValueError(f"source: expected 'field' or 'load', got {source!r}")
    rhs = M[inner].toarray() if source == "field" else np.eye(n)[inner]
    G[inner] = spla.splu(K[inner][:, inner].tocsc()).solve(rhs)
    return torch.as_tensor(G)


def mixed_mass_matrix(U, V):
    """``B_ij = ∫ ψ_j · φ_i dx`` with ψ from ``U`` and φ from ``V`` (rows: V).

    On one mesh this is a plain assembly; on two meshes of one domain it is the
    supermesh assembly of :mod:`firedrake.supermeshing`.
    """
    def build():
        if U.mesh() is V.mesh():
            a = fd.inner(fd.TrialFunction(U), fd.TestFunction(V)) * fd.dx
            return petsc_to_torch(fd.assemble(a, mat_type="aij"))
        from firedrake.supermeshing import assemble_mixed_mass_matrix
        return petsc_to_torch(assemble_mixed_mass_matrix(U, V))  # trial U, test V
    return _cached("mixed_mass", (U, V), build)


def interpolation_matrix(U, V):
    """The matrix of interpolation from ``U`` into ``V`` (either mesh), rows: V."""
    def build():
        return petsc_to_torch(fd.assemble(fd.interpolate(fd.TrialFunction(U), V)))
    return _cached("interpolation", (U, V), build)


def curl_matrix(Q, V):
    """The discrete 2D curl ``ψ ↦ (∂ψ/∂y, -∂ψ/∂x)`` from CG_k into RT_k.

    ``curl(CG_k) ⊂ RT_k``, so interpolation reproduces it exactly and the
    image is divergence-free to round-off.
    """
    def build():
        psi = fd.TrialFunction(Q)
        return petsc_to_torch(fd.assemble(fd.interpolate(fd.curl(psi), V)))
    return _cached("curl", (Q, V), build)


def _quadrature_element(V, degree):
    import finat.ufl

    deg = degree if degree is not None else max(2 * (V.ufl_element().embedded_superdegree - 1), 0)
    return finat.ufl.FiniteElement("Quadrature", V.mesh().ufl_cell(), deg, quad_scheme="default"), deg


def quadrature_gradient(V, degree=None):
    """``(D, w)`` for a scalar or vector space ``V`` (value size ``c``, 1 for scalars) on a mesh of
    dimension ``d``: ``D`` of shape ``(n_q·c·d, dim V)`` maps the DOFs of ``V`` to ``∇u`` at the ``n_q``
    points of a degree-``degree`` quadrature rule (point-major, then ``∂_j u_i`` at ``i·d + j``), and ``w``
    the ``n_q`` weights, so ``∫ g(∇u) dx = Σ_q w_q g(∇u(x_q))`` exactly for ``g`` a polynomial of that
    degree. The default degree, ``2(p − 1)`` for ``CG_p``, integrates the linearised energy exactly (one
    point per cell for CG1), so ``Dᵀ W D`` is the stiffness matrix.
    """
    import torch

    def build():
        mesh = V.mesh()
        if len(V.value_shape) > 1:
            raise ValueError(f"V: expected a scalar or vector space, got value shape {V.value_shape}")
        Qe, deg = _quadrature_element(V, degree)
        d = mesh.geometric_dimension
        Qt = fd.TensorFunctionSpace(mesh, Qe, shape=tuple(V.value_shape) + (d,)) if V.value_shape \
            else fd.VectorFunctionSpace(mesh, Qe, dim=d)
        D = petsc_to_torch(fd.assemble(fd.interpolate(fd.grad(fd.TrialFunction(V)), Qt), mat_type="aij"))
        w = fd.assemble(fd.TestFunction(fd.FunctionSpace(mesh, Qe)) * fd.dx(degree=deg))
        return D, torch.as_tensor(w.dat.data_ro.copy())
    return _cached(("quadrature_gradient", degree), (V,), build)


def quadrature_values(U, V, degree=None):
    """The matrix ``(n_q, dim U)`` of a scalar field of ``U`` at the quadrature points of
    :func:`quadrature_gradient` ``(V, degree)`` (same mesh; a DG0 field: its cell values)."""
    def build():
        if U.value_shape != () or U.mesh() is not V.mesh():
            raise ValueError(f"U: expected a scalar space on V's mesh, got {U}")
        Qe, _ = _quadrature_element(V, degree)
        Qs = fd.FunctionSpace(V.mesh(), Qe)
        return petsc_to_torch(fd.assemble(fd.interpolate(fd.TrialFunction(U), Qs), mat_type="aij"))
    return _cached(("quadrature_values", degree), (U, V), build)
