"""Gaussian random fields on FE spaces by the Whittle–Matérn SPDE.

``(κ² - Δ)^{α/2} u = τ W`` on the mesh (natural boundary conditions), with
``α = ν + d/2``, ``κ = √(8ν)/ρ`` and ``τ`` chosen so that the marginal variance
is ``σ²`` (Lindgren, Rue & Lindström 2011). Only even integer ``α`` is
supported (ν = 1, 3, 5 in 2D), each sample costing ``α/2`` solves with one
factorisation reused for all samples. White noise ``b ~ N(0, M)`` comes from
Firedrake's :class:`~firedrake.adjoint.covariance_operator.WhiteNoiseGenerator`
(element-wise Cholesky factors of the mass matrix, Croci et al. 2018).
The Neumann boundary inflates the variance within about ρ of the boundary.
"""
from __future__ import annotations

import math

import firedrake as fd
import numpy as np
import torch
from tqdm import trange

from ..fem.solve import lu_parameters

__all__ = ["MaternGRF"]


class MaternGRF:
    """Sampler of Whittle–Matérn fields on a scalar space ``V`` (CG).

    Parameters
    ----------
    V : FunctionSpace (scalar CG)
    length_scale : float
        Correlation length ρ (the distance at which the correlation is ≈ 0.14).
    smoothness : float
        ν; ``ν + d/2`` must be an even integer.
    variance : float
        Marginal variance σ².

    Examples
    --------
    >>> import firedrake as fd
    >>> V = fd.FunctionSpace(fd.UnitSquareMesh(16, 16), "CG", 1)
    >>> grf = MaternGRF(V, length_scale=0.2)
    >>> grf.sample(3, seed=0).shape
    torch.Size([3, 289])
    """

    def __init__(self, V, length_scale: float = 0.1, smoothness: float = 1.0, variance: float = 1.0):
        if V.value_shape != ():
            raise ValueError(f"V: expected a scalar space, got value shape {V.value_shape}")
        for name, val in (("length_scale", length_scale), ("smoothness", smoothness), ("variance", variance)):
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ValueError(f"{name}: expected a positive finite number, got {val!r}")
        d = V.mesh().geometric_dimension
        alpha = smoothness + d / 2
        if abs(alpha - round(alpha)) > 1e-12 or round(alpha) % 2:
            raise ValueError(f"smoothness: expected ν with ν + d/2 an even integer "
                             f"(ν = 1, 3, 5 in 2D), got ν = {smoothness}")
        self.V, self.rho, self.nu, self.sigma2 = V, float(length_scale), float(smoothness), float(variance)
        self.n_solves = int(round(alpha)) // 2
        self.kappa = math.sqrt(8 * self.nu) / self.rho
        # marginal variance of the SPDE solution with τ = 1
        var1 = math.gamma(self.nu) / (math.gamma(alpha) * (4 * math.pi) ** (d / 2) * self.kappa ** (2 * self.nu))
        self.tau = math.sqrt(self.sigma2 / var1)
        u, v = fd.TrialFunction(V), fd.TestFunction(V)
        a = (self.kappa ** 2 * u * v + fd.inner(fd.grad(u), fd.grad(v))) * fd.dx
        self._rhs = fd.Cofunction(V.dual())
        self._sol = fd.Function(V)
        problem = fd.LinearVariationalProblem(a, self._rhs, self._sol, constant_jacobian=True)
        self._solver = fd.LinearVariationalSolver(
            problem, solver_parameters=lu_parameters())
        self._mass = fd.assemble(u * v * fd.dx)

    def sample(self, n: int, seed: int | None = None, progress: bool = False, start: int | None = None
               ) -> torch.Tensor:
        """``n`` samples as a float64 tensor ``(n, V.dim())``.

        By default one random stream (``seed``) gives the samples in sequence. With
        ``start``, sample ``i`` of the set has its own stream, seeded by
        ``(seed, start + i)``: any slice of a set can be drawn alone (parallel
        generation over ensemble members draws the same set as one process).
        """
        if not (isinstance(n, int) and n > 0):
            raise ValueError(f"n: expected a positive integer, got {n!r}")
        from firedrake.adjoint.covariance_operator import WhiteNoiseGenerator
        from firedrake.randomfunctiongen import PCG64, RandomGenerator
        noise = WhiteNoiseGenerator(self.V, seed=seed)
        out = np.empty((n, self.V.dim()))
        for i in trange(n, desc="GRF samples", disable=not progress):
            rng = None
            if start is not None:
                ss = np.random.SeedSequence([0 if seed is None else seed, start + i]).generate_state(1)[0]
                rng = RandomGenerator(PCG64(seed=int(ss), comm=self.V.comm))
            b = self.tau * noise.sample(rng=rng, tensor=self._rhs).dat.data_ro.copy()
            for k in range(self.n_solves):
                self._rhs.dat.data_wo[:] = b
                self._sol.zero()  # the solver updates u ← u + δu: start from 0 for bitwise repeatability
                self._solver.solve()
                if k + 1 < self.n_solves:
                    with self._sol.dat.vec_ro as x, self._rhs.dat.vec_wo as y:
                        self._mass.petscmat.mult(x, y)
                    b = self._rhs.dat.data_ro.copy()
            out[i] = self._sol.dat.data_ro
        return torch.as_tensor(out)

    def correlation(self, r):
        """The Matérn correlation function at distance ``r``."""
        from scipy.special import gamma, kv
        r = np.asarray(r, dtype=float)
        kr = np.maximum(self.kappa * r, 1e-300)
        return np.where(r == 0, 1.0, 2 ** (1 - self.nu) / gamma(self.nu) * kr ** self.nu * kv(self.nu, kr))
