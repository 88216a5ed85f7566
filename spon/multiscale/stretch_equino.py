"""Finite-strain surrogates of the homogenised response ``F̄ ↦ (P̄, ∂P̄/∂F̄)``, objective by construction.

All three learn ``P̄`` at symmetric stretches ``Ū`` from ``x``, the components of
``Ū − I`` (:mod:`spon.multiscale.stretch`), and return ``P̄(F̄) = R̄ P̂(x(Ū))``:

* :class:`StretchEquiNO` — EquiNO at finite strain. The fluctuation is ``Σ a_i φ_i``
  (POD of periodic FE fluctuations: periodic) and the micro stress is ``Σ b_j ψ_j``
  (POD of FE first Piola–Kirchhoff fields: ``∫ ψ_j : ∇v = 0`` for every periodic ``v``,
  so equilibrated). A network gives ``(a, b)`` from ``x`` in secant form ``c = G(x) x``;
  training needs no stress labels: the loss is constitutive consistency at the quadrature points,
  ``r = P_law(Ū + Σ a_i ∇φ_i) − Σ b_j ψ_j``, weighed by each phase's compliance ``1/μ``,
  relative to the homogeneous stretch's ``P_law(Ū)``. ``P̂ = Σ b_j ⟨ψ_j⟩``.
* :class:`StretchMLP` — the data-driven baseline: an MLP ``x ↦ P̂`` fitted to the snapshots'
  ``P̄`` (anchored: ``P̂(0) = 0``).
* :class:`StretchLeastSquares` — least squares of the POD stress coefficients ``b`` on a polynomial
  of ``x`` (degree 1 or 2), fitted on the snapshots.

The tangent ``∂P̄/∂F̄`` is autodiff of ``F̄ ↦ R̄ P̂``, one batched call. With ``kinematics="small"`` the
same models learn ``σ̄(ε̄)`` on the components of ``ε̄ = sym(F̄ − I)`` (no rotation: small strain).
"""
from __future__ import annotations


import numpy as np
import torch
from torch import nn

from .stretch import polar, stretch_components, stretch_from_components
from .surrogate import mlp, phase_blocks

__all__ = ["StretchSurrogate", "StretchEquiNO", "StretchMLP", "StretchLeastSquares", "fit_stretch_mlp"]


class StretchSurrogate(nn.Module):
    """A homogenised finite-strain material trained on stretches with ``|Ū − I|`` components in ``box``."""

    def __init__(self, d: int, box: float, stretch_min: float = 0.85, kinematics: str = "finite"):
        super().__init__()
        if d not in (2, 3):
            raise ValueError(f"d: expected 2 or 3, got {d}")
        if kinematics not in ("finite", "small"):
            raise ValueError(f"kinematics: expected 'finite' or 'small', got {kinematics!r}")
        self.kinematics = kinematics
        if kinematics == "small":
            stretch_min = 0.0      # x are the strain components; no stretch bound
        self.d = d
        self.n = 3 if d == 2 else 6
        self.stretch_min = float(stretch_min)
        self.register_buffer("box", torch.full((self.n,), float(box), dtype=torch.float64))

    def sample(self, n: int, g: torch.Generator, small_fraction: float = 0.0) -> torch.Tensor:
        """``n`` admissible stretch components, uniform in the box (rejection), ``small_fraction`` pulled to 0."""
        from .stretch import admissible
        out = torch.zeros(0, self.n, dtype=torch.float64)
        while len(out) < n:
            x = (2 * torch.rand(2 * n, self.n, generator=g, dtype=torch.float64) - 1) * self.box.cpu()
            k = int(round(small_fraction * len(x)))
            x[:k] *= torch.rand(k, 1, generator=g, dtype=torch.float64) ** 2
            out = torch.cat([out, x[admissible(x, float(self.box[0]), self.stretch_min)]])
        return out[torch.randperm(len(out), generator=g)[:n]].to(self.box.device)

    def stretch_stress(self, x: torch.Tensor) -> torch.Tensor:
        """``P̂`` at the stretches of components ``x`` ``(B, n)``, ``(B, d, d)``."""
        raise NotImplementedError

    def check(self, F: torch.Tensor, strict: bool, name: str = "F"):
        if not isinstance(F, torch.Tensor) or F.ndim != 3 or F.shape[1:] != (self.d, self.d):
            raise ValueError(f"{name}: expected a tensor of deformation gradients of shape (N, {self.d}, {self.d}), "
                             f"got {getattr(F, 'shape', type(F).__name__)}")
        if F.dtype != self.box.dtype or F.device != self.box.device:
            raise TypeError(f"{name}: expected {self.box.dtype} on {self.box.device}, got {F.dtype} on {F.device}")
        if not torch.isfinite(F).all():
            raise ValueError(f"{name}: contains NaN or Inf")
        if (torch.linalg.det(F) <= 0).any():
            raise ValueError(f"{name}: det F must be positive")
        if strict:
            from .stretch import admissible
            out = ~admissible(self._components(F), float(self.box[0]), self.stretch_min * (1 - 1e-9))
            if out.any():
                i = int(out.nonzero()[0])
                raise ValueError(f"{name}: {int(out.sum())} deformation(s) lie outside the surrogate's training "
                                 f"set (|U - I| <= {self.box[0].item():g} componentwise, principal stretches >= "
                                 f"{self.stretch_min:g}), "
                                 f"e.g. F = {F[i].tolist()}; refine the load steps or retrain on a larger set")

    def first_piola(self, F: torch.Tensor) -> torch.Tensor:
        """``P̄(F̄) = R̄ P̂(Ū)``, ``(B, d, d)``; small strain: ``σ̄(ε̄)`` with ``ε̄ = sym(F̄ − I)``."""
        if self.kinematics == "small":
            return self.stretch_stress(stretch_components(0.5 * (F + F.transpose(-2, -1))))
        R, U = polar(F)
        return R @ self.stretch_stress(stretch_components(U))

    def _components(self, F):
        if self.kinematics == "small":
            return stretch_components(0.5 * (F + F.transpose(-2, -1)))
        return stretch_components(polar(F)[1])

    def stress_and_tangent(self, F: torch.Tensor, strict: bool = True):
        """``P̄`` ``(N, d, d)`` and ``∂P̄/∂F̄`` ``(N, d, d, d, d)`` in one batched call."""
        self.check(F, strict)

        def f(Fi):
            P = self.first_piola(Fi[None])[0]
            return P, P
        A, P = torch.func.vmap(torch.func.jacrev(f, has_aux=True))(F)
        return P, A


class StretchEquiNO(StretchSurrogate):
    """EquiNO at finite strain on POD bases of FE fields; build with :meth:`from_snapshots`."""

    def __init__(self, d, n_u, n_sigma, n_q, n_dof, box, materials, width=64, depth=3, branches=2, stretch_min=0.85,
                 kinematics="finite"):
        super().__init__(d, box, stretch_min, kinematics)
        dt = torch.float64
        self.n_u, self.n_sigma, self.materials = n_u, n_sigma, dict(materials)
        self.meta = dict(kind="StretchEquiNO", d=d, n_u=n_u, n_sigma=n_sigma, n_q=n_q, n_dof=n_dof, box=box,
                         width=width, depth=depth, branches=branches, stretch_min=stretch_min, kinematics=kinematics)
        self.register_buffer("u_modes", torch.zeros(n_u, n_dof, dtype=dt))
        self.register_buffer("grad_modes", torch.zeros(n_u, n_q, d, d, dtype=dt))
        self.register_buffer("stress_modes", torch.zeros(n_sigma, n_q, d, d, dtype=dt))
        self.register_buffer("stress_mean_modes", torch.zeros(n_sigma, d, d, dtype=dt))
        self.register_buffer("weights", torch.zeros(n_q, dtype=dt))
        self.register_buffer("phase", torch.zeros(n_q, dtype=torch.int64))
        self.register_buffer("coef_scale", torch.ones(n_u + n_sigma, dtype=dt))
        self.nets = nn.ModuleList([mlp(self.n, self.n * k, width, depth, strain_norm=True).to(dt)
                                   for k in ((n_u, n_sigma) if branches == 2 else (n_u + n_sigma,))])

    @classmethod
    def from_snapshots(cls, snaps, quad, materials, *, box, stretch_min=0.85, n_u=None, n_sigma=None, tol=1e-7, width=64,
                       depth=3, seed=0, kinematics="finite"):
        from .pod import pod
        w = quad.weights
        S, nq, d = snaps.grad_w.shape[0], snaps.grad_w.shape[1], snaps.grad_w.shape[-1]
        Tu, lam_u = pod(snaps.grad_w.reshape(S, nq, d * d), w, tol=tol, n_max=n_u)
        Ts, lam_s = pod(snaps.P_q.reshape(S, nq, d * d), w, tol=tol, n_max=n_sigma)
        torch.manual_seed(seed)
        m = cls(d, len(Tu), len(Ts), nq, snaps.w.shape[1], box, materials, width, depth, stretch_min=stretch_min,
                kinematics=kinematics)
        t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
        m.u_modes.copy_(t(Tu @ snaps.w))
        m.grad_modes.copy_(t(np.einsum("ks,sqij->kqij", Tu, snaps.grad_w)))
        psi = np.einsum("ks,sqij->kqij", Ts, snaps.P_q)
        m.stress_modes.copy_(t(psi))
        m.stress_mean_modes.copy_(t(np.einsum("q,kqij->kij", w, psi) / w.sum()))
        m.weights.copy_(t(w))
        m.phase.copy_(torch.as_tensor(quad.phase))
        # coefficient scales from the snapshots' own projections (the loss has no stress labels)
        a = np.einsum("sqij,q,kqij->sk", snaps.grad_w, w, m.grad_modes.numpy())
        b = np.einsum("sqij,q,kqij->sk", snaps.P_q, w, psi)
        c = np.concatenate([a, b], axis=1)
        m.coef_scale.copy_(t(c.std(0) + 1e-12 * np.abs(c).max()))
        m.pod_energy = {"u": lam_u, "stress": lam_s}
        m.meta.update(n_u=m.n_u, n_sigma=m.n_sigma)
        return m

    def coefficients(self, x):
        y = torch.cat([f(x / self.box) for f in self.nets], dim=1)
        c = torch.einsum("bkj,bj->bk", y.reshape(len(x), -1, self.n), x / self.box) * self.coef_scale
        return c[:, :self.n_u], c[:, self.n_u:]

    def stretch_stress(self, x):
        return torch.einsum("bk,kij->bij", self.coefficients(x)[1], self.stress_mean_modes)

    def fluctuation_dofs(self, x):
        """Fluctuation DOFs ``(B, ndof·d)`` at stretches ``x`` (periodic by construction)."""
        return self.coefficients(x)[0] @ self.u_modes

    def _phase_blocks(self):
        return phase_blocks(self.phase, self.materials)

    def _law(self, m, F):
        if self.kinematics == "small":
            d = F.shape[-1]
            return m.small_strain_stress_torch(0.5 * (F + F.transpose(-2, -1)) - torch.eye(d, dtype=F.dtype,
                                                                                            device=F.device))
        return m.stress_torch(F, create_graph=True)

    def constitutive_loss(self, x, reduce: str = "sample", norm: str = "compliance"):
        """Constitutive mismatch ``r = P_law(Ū + Σ a ∇φ) − Σ b ψ`` at the points, relative to the homogeneous
        stretch's ``P_law(Ū)`` in the same norm, per sample (``"sample"``) or summed over the batch.

        ``norm="compliance"`` weighs each phase's ``r`` by its initial compliance: the deviatoric and skew
        parts by ``1/(2μ)``, the trace by ``1/(d² K)`` with ``K = λ + 2μ/d``, so a nearly incompressible
        phase's pressure mismatch counts as the small volume error it is; ``"shear"`` is ``|r|²/μ``."""
        if norm not in ("compliance", "shear"):
            raise ValueError(f"norm: expected 'compliance' or 'shear', got {norm!r}")
        order, blocks = self._phase_blocks()
        a, b = self.coefficients(x)
        U = stretch_from_components(x)
        F = U[:, None] + torch.einsum("bk,kqij->bqij", a, self.grad_modes[:, order])
        r = torch.cat([self._law(m, F[:, sl]) for m, sl in blocks], dim=1) \
            - torch.einsum("bk,kqij->bqij", b, self.stress_modes[:, order])
        w = self.weights[order]
        d = self.d

        def energy(m, t):
            if norm == "shear":
                return t.pow(2).sum((-2, -1)) / m.mu0
            tr = t.diagonal(dim1=-2, dim2=-1).sum(-1)
            dev = t - tr[..., None, None] / d * torch.eye(d, dtype=t.dtype, device=t.device)
            return dev.pow(2).sum((-2, -1)) / (2 * m.mu0) + tr.pow(2) / (d * d * (m.lmbda0 + 2 * m.mu0 / d))

        num = den = 0.0
        for m, sl in blocks:
            num = num + (energy(m, r[:, sl]) * w[sl]).sum(-1)
            with torch.no_grad():
                den = den + w[sl].sum() * energy(m, self._law(m, U))
        if reduce == "batch":
            return num.sum() / den.sum().clamp_min(1e-30)
        return num / den.clamp_min(1e-30)


class StretchMLP(StretchSurrogate):
    """``P̂(x) = s ⊙ (N(x/box) − N(0))``: an MLP of the stretch components fitted to ``P̄`` labels."""

    def __init__(self, d, box, width=64, depth=3, stretch_min=0.85, kinematics="finite"):
        super().__init__(d, box, stretch_min, kinematics)
        self.meta = dict(kind="StretchMLP", d=d, box=box, width=width, depth=depth, stretch_min=stretch_min,
                         kinematics=kinematics)
        self.register_buffer("scale", torch.ones(d * d, dtype=torch.float64))
        self.net = mlp(self.n, d * d, width, depth, strain_norm=True).to(torch.float64)

    def stretch_stress(self, x):
        y = self.net(x / self.box) - self.net(torch.zeros_like(x[:1] if x.ndim == 2 else x[None]))
        return (self.scale * y).reshape(*x.shape[:-1], self.d, self.d)


class StretchLeastSquares(StretchSurrogate):
    """Least squares of the POD stress coefficients on the monomials of ``x`` up to ``degree``."""

    def __init__(self, d, box, stress_mean_modes, degree: int = 2, stretch_min=0.85, kinematics="finite"):
        super().__init__(d, box, stretch_min, kinematics)
        if degree not in (1, 2):
            raise ValueError(f"degree: expected 1 or 2, got {degree}")
        self.degree = degree
        self.register_buffer("stress_mean_modes", torch.as_tensor(stress_mean_modes, dtype=torch.float64))
        self.register_buffer("coef", torch.zeros(self._features(torch.zeros(1, self.n,
                                                                             dtype=torch.float64)).shape[1],
                                                 len(stress_mean_modes), dtype=torch.float64))
        self.meta = dict(kind="StretchLeastSquares", d=d, box=box, degree=degree, stretch_min=stretch_min,
                         kinematics=kinematics)

    def _features(self, x):
        z = x / self.box
        cols = [z]     # no constant: P̂(0) = 0
        if self.degree == 2:
            i, j = torch.triu_indices(self.n, self.n)
            cols.append(z[:, i] * z[:, j])
        return torch.cat(cols, dim=1)

    def fit(self, x, b, weights=None):
        """Fit on stretch components ``x`` ``(S, n)`` and the snapshots' coefficients ``b`` ``(S, n_sigma)``;
        ``weights`` ``(S,)`` weigh each snapshot's squared error (``1/|P̄|²``: relative errors, the
        criterion the networks are trained on)."""
        X = self._features(torch.as_tensor(x, dtype=torch.float64))
        B = torch.as_tensor(b, dtype=torch.float64)
        if weights is not None:
            s = torch.as_tensor(weights, dtype=torch.float64).sqrt()[:, None]
            X, B = X * s, B * s
        self.coef.copy_(torch.linalg.lstsq(X, B).solution)
        return self

    def stretch_stress(self, x):
        return torch.einsum("bk,kij->bij", self._features(x) @ self.coef, self.stress_mean_modes)


def fit_stretch_mlp(model: StretchMLP, x, P, steps=3000, lbfgs_steps=0, lr=3e-3, seed=0, progress=True):
    """Full-batch fit of ``P̂(x)`` to snapshot ``P̄`` (relative per-sample errors, as EquiNO's loss is
    per sample): Adam with a cosine schedule, then L-BFGS."""
    from .fit import fit_full_batch
    torch.manual_seed(seed)
    X = torch.as_tensor(x, dtype=torch.float64)
    Y = torch.as_tensor(P, dtype=torch.float64).reshape(len(X), -1)
    model.scale.copy_(Y.abs().amax(0).clamp_min(1e-12 * Y.abs().max()))
    y2 = Y.pow(2).sum(1).clamp_min(1e-6 * Y.pow(2).sum(1).max())

    def loss_fn():
        return ((model.stretch_stress(X).reshape(len(X), -1) - Y).pow(2).sum(1) / y2).mean()

    return fit_full_batch(model.net, loss_fn, steps, lbfgs_steps, lr, "P̄ MLP", progress)
