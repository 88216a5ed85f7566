"""FE functionals of network outputs, evaluated and differentiated per sample.

Every class here maps a batch ``u`` of shape ``(B, V.dim())`` (and optional
per-sample data on other FE spaces) to ``J`` of shape ``(B,)`` through
:func:`fe_functional`, a ``torch.autograd.Function`` whose backward uses each
sample's own gradient, computed right after that sample's evaluation (never a
stale tape state).

* :class:`EnergyFunctional` — ``J_b = E(u_b; m_b)`` for an energy 0-form;
* :class:`ResidualFunctional` — ``J_b = ‖F(u_b; m_b)‖²`` of a residual 1-form,
  in ℓ² of the assembled vector without BC rows or in a dual norm (Riesz map
  by the mass, stiffness or H¹ matrix, factorised once);
* :class:`ReducedFunctional` — any pyadjoint-annotated computation, e.g. solve
  a PDE with the network output as coefficient, then a misfit. The tape is
  recorded once and replayed per sample.

Energies and residuals are assembled for the whole batch in one kernel call
(:class:`~spon.physics.batched.BatchSpace`): forms are built once per batch
size and reused across samples and steps. Values and derivatives use one
quadrature degree (that of the value form, or ``quadrature_degree``), so the
gradient is the exact derivative of the discrete functional even for
non-polynomial integrands; for :class:`ReducedFunctional` pass ``dx(degree=...)``
in your forms for the same reason.
"""
from __future__ import annotations

import firedrake as fd
import numpy as np
import torch
import ufl

from ..fem.bcs import dirichlet_mask
from ..fem.checks import check_finite, check_tensor
from .batched import BatchSpace

__all__ = ["FEFunctional", "EnergyFunctional", "ResidualFunctional", "ReducedFunctional", "fe_functional"]


class _Bridge(torch.autograd.Function):
    @staticmethod
    def forward(ctx, functional, u, *data):
        J, grads = functional.evaluate(u, data, ctx.needs_input_grad[1:])
        ctx.grads = [None if g is None else g.to(device=u.device, dtype=u.dtype) for g in grads]
        return J.to(device=u.device, dtype=u.dtype)

    @staticmethod
    def backward(ctx, gJ):
        return (None, *[None if g is None else gJ.unsqueeze(1) * g for g in ctx.grads])


def fe_functional(functional, u, *data):
    """``J = functional(u, *data)`` with per-sample gradients for autograd."""
    return _Bridge.apply(functional, u, *data)


class FEFunctional:
    """Base: network output space ``V`` and per-sample data spaces ``data_spaces``."""

    def __init__(self, V, data_spaces=()):
        self.V, self.data_spaces = V, list(data_spaces)

    def _check(self, u, data):
        check_tensor(u, "u", shape=(self.V.dim(),))
        check_finite(u, "u")
        if len(data) != len(self.data_spaces):
            raise ValueError(f"data: expected {len(self.data_spaces)} per-sample fields, got {len(data)}")
        for i, (d, W) in enumerate(zip(data, self.data_spaces)):
            check_tensor(d, f"data[{i}]", shape=(W.dim(),))
            check_finite(d, f"data[{i}]")
            if d.shape[0] != u.shape[0]:
                raise ValueError(f"data[{i}]: expected batch size {u.shape[0]} (as u), got {d.shape[0]}")

    def __call__(self, u, *data) -> torch.Tensor:
        self._check(u, data)
        return fe_functional(self, u, *data)

    def evaluate(self, u, data, need_grad):  # pragma: no cover - interface
        raise NotImplementedError


class _BatchedForms(FEFunctional):
    """Shared machinery: batched Functions for u and data, cached per batch size."""

    def __init__(self, V, data_spaces=(), quadrature_degree=None):
        super().__init__(V, data_spaces)
        self._cache = {}
        self.quadrature_degree = quadrature_degree

    def _fcp(self, form):
        """One quadrature degree for a form and its derivatives."""
        deg = self.quadrature_degree
        if deg is None:
            from ufl.algorithms import estimate_total_polynomial_degree
            from ufl.algorithms.apply_algebra_lowering import apply_algebra_lowering
            deg = max(estimate_total_polynomial_degree(itg.integrand())
                      for itg in apply_algebra_lowering(form).integrals())
        return {"quadrature_degree": int(deg)}

    def _batch(self, B):
        if B not in self._cache:
            spaces = [BatchSpace(self.V, B)] + [BatchSpace(W, B) for W in self.data_spaces]
            funcs = [fd.Function(s.W) for s in spaces]
            self._cache[B] = self._build(spaces, funcs)
        return self._cache[B]

    def _load(self, entry, u, data):
        for s, f, x in zip(entry["spaces"], entry["funcs"], (u, *data)):
            s.set(f, x)


class EnergyFunctional(_BatchedForms):
    """``J_b = ∫ e(u_b, m_b)``: ``energy(u, *m)`` returns the 0-form of one sample.

    Examples
    --------
    >>> import firedrake as fd, torch
    >>> V = fd.FunctionSpace(fd.UnitSquareMesh(4, 4), "CG", 1)
    >>> E = EnergyFunctional(V, lambda u: 0.5 * fd.inner(fd.grad(u), fd.grad(u)) * fd.dx)
    >>> E(torch.zeros(2, V.dim(), dtype=torch.float64)).tolist()
    [0.0, 0.0]
    """

    def __init__(self, V, energy, data_spaces=(), quadrature_degree=None):
        super().__init__(V, data_spaces, quadrature_degree)
        self.energy = energy

    def _build(self, spaces, funcs):
        B = spaces[0].B
        # DG0 test functions are cell indicators: Σ_b ∫ e_b q_b assembles to per-cell
        # integrals whose column sums are J_b; Σ_b J_b differentiates to (dJ_b/du_b)
        q = fd.TestFunction(fd.VectorFunctionSpace(self.V.mesh(), "DG", 0, dim=B))
        per = [self.energy(*(s.sample(f, b) for s, f in zip(spaces, funcs))) for b in range(B)]
        values = sum(_times(Jb, q[b]) for b, Jb in enumerate(per))
        total = sum(per)
        grads = [fd.derivative(total, f) for f in funcs]
        return {"spaces": spaces, "funcs": funcs, "values": values, "grads": grads, "fcp": self._fcp(total)}

    def evaluate(self, u, data, need_grad):
        e = self._batch(u.shape[0])
        self._load(e, u, data)
        fcp = e["fcp"]
        J = torch.as_tensor(fd.assemble(e["values"], form_compiler_parameters=fcp).dat.data_ro.sum(axis=0))
        grads = [s.get(fd.assemble(g, form_compiler_parameters=fcp)) if n else None
                 for s, g, n in zip(e["spaces"], e["grads"], need_grad)]
        return J, grads


def _times(form, c):
    """Multiply every integral of a 0-form by the expression ``c``."""
    return ufl.Form([itg.reconstruct(integrand=itg.integrand() * c) for itg in form.integrals()])


class ResidualFunctional(_BatchedForms):
    """``J_b = ‖F(u_b; m_b)‖²`` for a residual 1-form ``residual(u, v, *m)``.

    Parameters
    ----------
    V : the network output space (trial and test space of the residual)
    residual : callable ``(u, v, *m) -> 1-form`` for one sample
    bcs : DirichletBCs whose rows are removed from the residual
    norm : ``"l2"`` (Euclidean norm of the assembled vector), ``"L2"``, ``"H1"``
        or ``"H1_semi"`` (dual norms ``rᵀ A⁻¹ r`` with the mass, M + K or K matrix,
        homogeneous BCs, factorised once), or ``"L2_preconditioned"``:
        ``‖K⁻¹ r‖²_{L²}``, the L² norm of the Laplace-preconditioned residual.
        For ``-∇·(κ∇u) = f`` it is about ``κ̄² ‖u − u*‖²_{L²}``, so its Hessian
        is mass-like and physics-only training is conditioned like training on
        labels in L², where the dual norms weigh high frequencies like H¹.
    """

    def __init__(self, V, residual, bcs=(), norm: str = "L2", data_spaces=(), quadrature_degree=None):
        if norm not in _NORMS:
            raise ValueError(f"norm: expected one of {_NORMS}, got {norm!r}")
        super().__init__(V, data_spaces, quadrature_degree)
        self.residual, self.bcs, self.norm = residual, list(bcs), norm
        self.bdofs = np.flatnonzero(dirichlet_mask(V, self.bcs)) if self.bcs else None
        if norm != "l2":
            p, q = fd.TrialFunction(V), fd.TestFunction(V)
            forms = {"L2": fd.inner(p, q) * fd.dx,
                     "H1_semi": fd.inner(fd.grad(p), fd.grad(q)) * fd.dx,
                     "H1": (fd.inner(p, q) + fd.inner(fd.grad(p), fd.grad(q))) * fd.dx}
            forms["L2_preconditioned"] = forms["H1_semi"]
            A = fd.assemble(forms[norm], bcs=_homogeneous(self.bcs))
            if norm == "L2_preconditioned":
                from ..fem.assembly import mass_matrix
                self._M = mass_matrix(V)
            # one factorisation, then all B right-hand sides in one multi-RHS solve
            from firedrake.petsc import PETSc
            self._ksp = PETSc.KSP().create(comm=V.mesh().comm)
            self._ksp.setOperators(A.petscmat)
            self._ksp.setType("preonly")
            pc = self._ksp.getPC()
            pc.setType("lu")
            pc.setFactorSolverType("mumps")
            self._ksp.setUp()

    def _build(self, spaces, funcs):
        B = spaces[0].B
        v = fd.TestFunction(spaces[0].W)
        F = sum(self.residual(*((spaces[0].sample(funcs[0], b), spaces[0].sample(v, b)) +
                                tuple(s.sample(f, b) for s, f in zip(spaces[1:], funcs[1:]))))
                for b in range(B))
        w = fd.Function(spaces[0].W)
        grads = [fd.action(fd.adjoint(fd.derivative(F, f)), w) for f in funcs]
        return {"spaces": spaces, "funcs": funcs, "F": F, "w": w, "grads": grads, "fcp": self._fcp(F)}

    def _mass(self, z: np.ndarray) -> np.ndarray:
        return torch.sparse.mm(self._M, torch.as_tensor(z).T).T.numpy()

    def _riesz_solve(self, r: np.ndarray) -> np.ndarray:
        """``A⁻¹ r_b`` for all rows of ``r`` with the reused factorisation (KSPMatSolve)."""
        from firedrake.petsc import PETSc
        B, n = r.shape
        rhs = PETSc.Mat().createDense((n, B), array=np.asfortranarray(r.T), comm=PETSc.COMM_SELF)
        sol = PETSc.Mat().createDense((n, B), comm=PETSc.COMM_SELF)
        sol.setUp()
        try:
            self._ksp.matSolve(rhs, sol)
            return sol.getDenseArray().T.copy()
        finally:
            rhs.destroy()
            sol.destroy()

    def evaluate(self, u, data, need_grad):
        e = self._batch(u.shape[0])
        self._load(e, u, data)
        s0 = e["spaces"][0]
        fcp = e["fcp"]
        r = s0.get(fd.assemble(e["F"], form_compiler_parameters=fcp)).numpy().copy()
        if self.bdofs is not None:
            r[:, self.bdofs] = 0.0
        if self.norm == "l2":
            w = r
            J = torch.as_tensor(np.einsum("bi,bi->b", r, w))
        elif self.norm == "L2_preconditioned":
            z = self._riesz_solve(r)                       # K⁻¹ r (zero on BC rows)
            Mz = self._mass(z)
            J = torch.as_tensor(np.einsum("bi,bi->b", z, Mz))
            if self.bdofs is not None:
                Mz[:, self.bdofs] = 0.0
            w = self._riesz_solve(Mz)                      # dJ/dr = 2 K⁻¹ M K⁻¹ r
        else:
            w = self._riesz_solve(r)
            J = torch.as_tensor(np.einsum("bi,bi->b", r, w))
        grads = [None] * len(e["funcs"])
        if any(need_grad):
            s0.set(e["w"], torch.as_tensor(2.0 * w))
            grads = [s.get(fd.assemble(g, form_compiler_parameters=fcp)) if n else None
                     for s, g, n in zip(e["spaces"], e["grads"], need_grad)]
        return J, grads


_NORMS = ("l2", "L2", "H1", "H1_semi", "L2_preconditioned")


def _homogeneous(bcs):
    return [fd.DirichletBC(bc.function_space(), fd.zero(bc.function_space().value_shape), bc.sub_domain)
            for bc in bcs]


class ReducedFunctional(FEFunctional):
    """Any computation pyadjoint can annotate: ``fn(u, *m) -> AdjFloat``.

    The tape is recorded once, at the first call (with its first sample); each
    sample is then a replay followed at once by its adjoint, so every gradient
    belongs to its sample. The recorded computation must not branch on values.
    This is the PDE-constrained setting: ``fn`` may ``solve`` with ``u`` as a
    coefficient and return a misfit.
    """

    def __init__(self, V, fn, data_spaces=()):
        super().__init__(V, data_spaces)
        self.fn, self.rf, self.tape = fn, None, None

    def _record(self, values):
        """Record the tape once, at the first sample's values (so ``fn`` sees real data)."""
        from firedrake.adjoint import Control, ReducedFunctional as RF, Tape, continue_annotation, \
            pause_annotation, set_working_tape

        self._u = fd.Function(self.V)
        self._m = [fd.Function(W) for W in self.data_spaces]
        for f, x in zip([self._u] + self._m, values):
            with f.dat.vec_wo as v:
                v.array[:] = x
        self.tape = Tape()
        with set_working_tape(self.tape):
            continue_annotation()
            try:
                J = self.fn(self._u, *self._m)
            finally:
                pause_annotation()
            self.rf = RF(J, [Control(self._u)] + [Control(m) for m in self._m], tape=self.tape)

    def evaluate(self, u, data, need_grad):
        B = u.shape[0]
        J = np.empty(B)
        grads = [np.empty((B, W.dim())) if n else None for W, n in zip([self.V] + self.data_spaces, need_grad)]
        fu = [fd.Function(self.V)] + [fd.Function(W) for W in self.data_spaces]
        rows = [x.detach().cpu().double().numpy() for x in (u, *data)]
        if self.rf is None:
            self._record([x[0] for x in rows])
        for b in range(B):
            for f, x in zip(fu, rows):
                with f.dat.vec_wo as v:
                    v.array[:] = x[b]
            J[b] = float(self.rf(fu))
            if any(need_grad):
                for g, d in zip(grads, self.rf.derivative()):  # this sample's state, right now
                    if g is not None:
                        with d.dat.vec_ro as v:
                            g[b] = v.array_r
        return torch.as_tensor(J), [None if g is None else torch.as_tensor(g) for g in grads]
