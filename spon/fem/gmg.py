"""Geometric multigrid for assembled matrices on the levels of a ``MeshHierarchy``.

CG preconditioned by a PETSc V-cycle, ``P`` Firedrake's interpolation between
the nested levels (assembled once). The coarse operators are either given
(rediscretised: ``level_mats``) or Galerkin products ``Pᵀ A P``. When the
matrices change between solves (refilled in place, see
:class:`~spon.fem.affine.CellwiseAffineMatrix`), a solve costs the smoother
and coarse-LU setup and a dozen CG iterations: no algebraic coarsening.
"""
from __future__ import annotations

import itertools

import firedrake as fd
import numpy as np
from firedrake.petsc import PETSc

from .checks import check_serial

__all__ = ["GeometricMultigridSolver"]

_ids = itertools.count()


class GeometricMultigridSolver:
    """``solve(b, x)`` for ``mat`` on ``spaces[-1]``; ``spaces``: scalar spaces on the
    levels of a hierarchy, coarsest first; ``level_mats``: the operators of the
    coarser levels, coarsest first (default: Galerkin ``Pᵀ A P``). Converges to
    ``rtol`` in the unpreconditioned residual norm; SSOR smoothing, LU on the
    coarsest level."""

    def __init__(self, mat, spaces, level_mats=None, bcs=None, rtol: float = 1e-10, smoothing_steps: int = 1,
                 max_it: int = 200):
        spaces = list(spaces)
        if len(spaces) < 2:
            raise ValueError(f"spaces: expected at least 2 levels (coarsest first), got {len(spaces)}")
        for i, V in enumerate(spaces):
            check_serial(V, f"spaces[{i}]")
        if mat.getSize() != (spaces[-1].dim(),) * 2:
            raise ValueError(f"mat: expected a {spaces[-1].dim()}-square matrix for spaces[-1], got {mat.getSize()}")
        self.P = [fd.assemble(fd.interpolate(fd.TrialFunction(a), b), mat_type="aij").petscmat
                  for a, b in zip(spaces[:-1], spaces[1:])]
        if bcs is not None:
            # corrections live in the subspace of the boundary conditions: P maps coarse
            # interior nodes to fine interior nodes only
            if len(bcs) != len(spaces):
                raise ValueError(f"bcs: expected one list of DirichletBCs per level ({len(spaces)}), got {len(bcs)}")
            for level, P in enumerate(self.P, start=1):
                fine = np.unique(np.concatenate([bc.nodes for bc in bcs[level]] or [[]])).astype(np.int32)
                coarse = np.unique(np.concatenate([bc.nodes for bc in bcs[level - 1]] or [[]])).astype(np.int32)
                P.zeroRows(fine, diag=0.0)
                Pt = P.transpose()
                Pt.zeroRows(coarse, diag=0.0)
                self.P[level - 1] = Pt.transpose()
        prefix = f"spon_gmg{next(_ids)}_"
        opts = PETSc.Options()
        if level_mats is not None and len(level_mats) != len(spaces) - 1:
            raise ValueError(f"level_mats: expected {len(spaces) - 1} coarse operators, got {len(level_mats)}")
        settings = {"ksp_type": "cg", "ksp_norm_type": "unpreconditioned", "ksp_rtol": rtol, "ksp_atol": 0.0,
                    "ksp_max_it": max_it, "pc_type": "mg",
                    "pc_mg_galerkin": "both" if level_mats is None else "none",
                    "mg_levels_ksp_type": "richardson", "mg_levels_ksp_max_it": smoothing_steps,
                    "mg_levels_pc_type": "sor", "mg_coarse_ksp_type": "preonly", "mg_coarse_pc_type": "lu"}
        self.ksp = PETSc.KSP().create(comm=mat.comm)
        self.ksp.setOptionsPrefix(prefix)
        pc = self.ksp.getPC()
        pc.setType("mg")
        pc.setMGLevels(len(spaces))
        for level, P in enumerate(self.P, start=1):
            pc.setMGInterpolation(level, P)
        for k, v in settings.items():
            opts[prefix + k] = v
        self.ksp.setOperators(mat)
        self.ksp.setFromOptions()          # the levels read their options at setup: keep them (unique prefix)
        self.level_mats = list(level_mats or [])
        self.mat, self.iterations = mat, []
        self._set_level_operators()

    def _set_level_operators(self):
        pc = self.ksp.getPC()
        for level, M in enumerate(self.level_mats):
            pc.getMGSmoother(level).setOperators(M)

    def solve(self, b, x):
        """Solve ``mat x = b`` (PETSc Vecs); the matrix may have changed since the last call."""
        self.ksp.setOperators(self.mat)
        self._set_level_operators()
        self.ksp.solve(b, x)
        reason = self.ksp.getConvergedReason()
        if reason <= 0:
            raise RuntimeError(f"multigrid CG did not converge (PETSc reason {reason}, "
                               f"{self.ksp.getIterationNumber()} iterations)")
        self.iterations.append(self.ksp.getIterationNumber())
        return x
