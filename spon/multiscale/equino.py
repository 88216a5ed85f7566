"""EquiNO (Eivazi et al., arXiv 2504.07976) on Firedrake POD bases.

The fluctuation is ``ũ = Σ a_i(ε̄) φ_i`` with ``φ_i`` POD modes of periodic FE
snapshots (periodic by construction); the micro stress is ``σ = Σ b_j(ε̄) ψ_j``
with ``ψ_j`` POD modes of equilibrated FE stress fields (equilibrated by
construction). A network gives ``(a, b)`` from ``ε̄``, by default in secant form
``c = G(x) x`` with ``x = ε̄ / box`` (so ``c/|x|`` is of order one at every strain). Training needs no stress
labels: the loss is constitutive consistency at the quadrature points::

    r = σ_law(ε̄ + Σ a_i ε(φ_i)) − Σ b_j ψ_j,
    L = Σ_batch ⟨ r · C_t⁻¹ r ⟩ / Σ_batch ⟨ σ_law(ε̄) · ε̄ ⟩,

at strains drawn afresh in the box (Adam), then at fixed Latin-hypercube
collocation strains (L-BFGS). ``C_t`` is the local material tangent, so the
mismatch is measured as strain energy: where the matrix softens, a small stress
mismatch is a large strain error (``norm="stress"`` gives EquiNO's plain
``|r|²``). The coefficients vanish at ``ε̄ = 0``. ``σ̄ = Σ b_j ⟨ψ_j⟩`` is linear
in ``b``; the consistent tangent ``dσ̄/dε̄`` comes from autodiff.

Training is in :mod:`spon.multiscale.fit`, held-out errors in
:mod:`spon.multiscale.metrics`, the data-driven baseline in
:mod:`spon.multiscale.stress_mlp`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .materials import material_spec, materials_from_spec
from .pod import pod
from .voigt import VOIGT_WEIGHTS
from .surrogate import Surrogate, forward_with_jacobian, mlp, phase_blocks

__all__ = ["EquiNO"]


class EquiNO(Surrogate):
    """EquiNO on POD bases; build with :meth:`from_snapshots`."""

    def __init__(self, n_u: int, n_sigma: int, n_q: int, n_dof: int, width: int = 64, depth: int = 3,
                 box: float = 0.04, materials: dict | None = None, meta: dict | None = None,
                 branches: int = 2, strain_norm: bool = True, form: str = "secant"):
        super().__init__()
        if form not in ("offset", "secant"):
            raise ValueError(f"form: expected 'offset' (c = N(x) - N(0)) or 'secant' (c = G(x) x), got {form!r}")
        self.form = form
        dt = torch.float64
        self.n_u, self.n_sigma = n_u, n_sigma
        self.meta = dict(meta or {}, n_u=n_u, n_sigma=n_sigma, n_q=n_q, n_dof=n_dof, width=width, depth=depth,
                         box=box, kind="EquiNO", branches=branches, strain_norm=bool(strain_norm), form=form)
        self.materials = materials or {}
        self.register_buffer("box", torch.full((3,), float(box), dtype=dt))
        self.register_buffer("u_modes", torch.zeros(n_u, n_dof, 2, dtype=dt))
        self.register_buffer("u_modes_q", torch.zeros(n_u, n_q, 2, dtype=dt))
        self.register_buffer("eps_modes", torch.zeros(n_u, n_q, 3, dtype=dt))
        self.register_buffer("stress_modes", torch.zeros(n_sigma, n_q, 3, dtype=dt))
        self.register_buffer("stress_mean_modes", torch.zeros(n_sigma, 3, dtype=dt))
        self.register_buffer("weights", torch.zeros(n_q, dtype=dt))
        self.register_buffer("phase", torch.zeros(n_q, dtype=torch.int64))
        self.register_buffer("coef_scale", torch.ones(n_u + n_sigma, dtype=dt))
        if branches not in (1, 2):
            raise ValueError(f"branches: expected 1 (shared) or 2 (one network for a, one for b), got {branches}")
        # as EquiNO: one branch network for the displacement and one for the stress coefficients
        per = 3 if form == "secant" else 1     # secant: a 3-vector per coefficient
        self.nets = nn.ModuleList([mlp(3, per * n, width, depth, strain_norm=strain_norm).to(dt) for n in
                                   ((n_u, n_sigma) if branches == 2 else (n_u + n_sigma,))])

    # what checkpoints written before a field existed were made with (not defaults: history)
    WRITTEN_BEFORE = {"branches": 1, "strain_norm": False, "form": "offset"}

    @classmethod
    def from_meta(cls, meta, materials=None):
        meta = {**cls.WRITTEN_BEFORE, **meta}
        missing = [k for k in ("n_u", "n_sigma", "n_q", "n_dof", "width", "depth", "box") if k not in meta]
        if missing:
            raise ValueError(f"meta: an EquiNO checkpoint needs {missing}")
        mats = materials or materials_from_spec(meta.get("materials", {}))
        return cls(meta["n_u"], meta["n_sigma"], meta["n_q"], meta["n_dof"], meta["width"], meta["depth"],
                   meta["box"], mats, meta=meta, branches=meta["branches"], strain_norm=meta["strain_norm"],
                   form=meta["form"])

    def net(self, x):
        return torch.cat([f(x) for f in self.nets], dim=1)

    @classmethod
    def from_snapshots(cls, snaps, quad, materials: dict, *, n_u=None, n_sigma=None, tol=1e-6,
                       width=64, depth=3, box=0.04, seed=0, meta=None, branches=2, strain_norm=True,
                       pod_normalised: bool = False, anchors=None, form: str = "secant"):
        """POD of the snapshot fluctuations and stresses (both kept as FE data).

        ``pod_normalised`` scales every snapshot to unit norm before the POD, so the
        shapes of small-strain fields count as much as those of large ones (plain POD
        weighs a snapshot by its energy, ∝ ‖ε̄‖²). ``anchors`` (more
        :class:`~spon.multiscale.snapshots.Snapshots`, e.g. the linear-regime solutions
        at tiny strains) join the POD scaled to the snapshots' mean norm, so their
        shapes are kept however small their strains. Either way the modes stay
        combinations of FE solutions: periodic and equilibrated as before.

        ``form="secant"`` writes the coefficients as ``c = G(x) x`` (``x = ε̄ / box``, a
        3-vector of outputs per coefficient) instead of ``N(x) − N(0)``: ``c/|x|`` is
        then of order one at every strain, so small strains are fitted to the same
        relative accuracy as large ones.
        """
        w = quad.weights
        n_a = 0 if anchors is None else len(anchors)
        data = {k: getattr(snaps, k) if not n_a else np.concatenate([getattr(snaps, k), getattr(anchors, k)])
                for k in ("u", "u_q", "stress_q")}

        def scaled(X, kc):
            d = np.sqrt(np.einsum("sqc,q,c->s", X**2, w, kc))
            d = np.maximum(d, 1e-300 + 1e-12 * d.max())
            if pod_normalised:
                return X / d[:, None, None], d
            scale = np.ones(len(X))
            if n_a:
                scale[-n_a:] = d[-n_a:] / d[:-n_a].mean()
            return X / scale[:, None, None], scale

        Xu, du = scaled(data["u_q"], np.ones(2))
        Xs, ds = scaled(data["stress_q"], VOIGT_WEIGHTS)
        Tu, lam_u = pod(Xu, w, tol=tol, n_max=n_u)
        Ts, lam_s = pod(Xs, w, VOIGT_WEIGHTS, tol=tol, n_max=n_sigma)
        Tu, Ts = Tu / du[None], Ts / ds[None]   # modes = T @ (raw snapshots)
        torch.manual_seed(seed)
        m = cls(len(Tu), len(Ts), len(w), snaps.u.shape[1], width, depth, box, materials,
                meta=dict(meta or {}, materials=material_spec(materials), pod_normalised=bool(pod_normalised),
                          pod_anchors=None if anchors is None else np.asarray(anchors.strain).tolist()),
                branches=branches, strain_norm=strain_norm, form=form)
        t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
        u_modes = np.einsum("ks,snc->knc", Tu, data["u"])
        m.u_modes.copy_(t(u_modes))
        m.u_modes_q.copy_(t(np.einsum("ks,snc->knc", Tu, data["u_q"])))
        m.eps_modes.copy_(t(np.stack([quad.strain_of(phi) for phi in u_modes])))
        psi = np.einsum("ks,snc->knc", Ts, data["stress_q"])
        m.stress_modes.copy_(t(psi))
        m.stress_mean_modes.copy_(t(np.einsum("q,kqc->kc", w, psi) / w.sum()))
        m.weights.copy_(t(w))
        m.phase.copy_(torch.as_tensor(quad.phase))
        # coefficient scales from the snapshots' own projections (no stress labels in the loss)
        a = np.einsum("sqc,q,kqc->sk", snaps.u_q, w, m.u_modes_q.numpy())
        b = np.einsum("sqc,q,c,kqc->sk", snaps.stress_q, w, VOIGT_WEIGHTS, psi)
        c = np.concatenate([a, b], axis=1)
        m.coef_scale.copy_(t(c.std(0) + 1e-12 * np.abs(c).max()))
        m.pod_energy = {"u": lam_u, "stress": lam_s}
        return m

    def coefficients(self, E):
        # c(0) = 0 exactly (no fluctuation, no stress at zero strain), so errors shrink with |ε̄|
        x = E / self.box
        if self.form == "secant":
            c = torch.einsum("bkj,bj->bk", self.net(x).reshape(len(x), -1, 3), x)
        else:
            c = self.net(x) - self.net(torch.zeros_like(x[:1]))
        c = self.coef_scale * c
        return c[:, :self.n_u], c[:, self.n_u:]

    def homogenised_stress(self, E):
        return self.coefficients(E)[1] @ self.stress_mean_modes

    def _stress_and_tangent(self, E):
        x = E / self.box
        y, J = forward_with_jacobian(self.nets[-1], x)
        M = self.coef_scale[self.n_u:, None] * self.stress_mean_modes      # (n_sigma, 3)
        if self.form == "secant":   # c = G x: dc/dx = G + Σ_j x_j dG_j/dx
            G = y[:, -3 * self.n_sigma:].reshape(len(x), self.n_sigma, 3)
            dG = J[:, -3 * self.n_sigma:].reshape(len(x), self.n_sigma, 3, 3)
            c = torch.einsum("bkj,bj->bk", G, x)
            dc = G + torch.einsum("bkji,bj->bki", dG, x)
            return c @ M, torch.einsum("kc,bkj->bcj", M, dc) / self.box
        y, J = y[:, -self.n_sigma:], J[:, -self.n_sigma:]
        y0 = self.nets[-1](torch.zeros_like(E[:1]))[:, -self.n_sigma:]
        s = (y - y0) @ M
        C = torch.einsum("kc,bkj->bcj", M, J) / self.box
        return s, C

    def fields(self, E):
        """Fluctuation ``(B, Nq, 2)`` and micro stress ``(B, Nq, 3)`` at the quadrature points."""
        a, b = self.coefficients(E)
        return (torch.einsum("bk,kqc->bqc", a, self.u_modes_q),
                torch.einsum("bk,kqc->bqc", b, self.stress_modes))

    def fluctuation_dofs(self, E):
        """Fluctuation DOFs ``(B, ndof, 2)`` of the RVE's CG space (periodic by construction)."""
        return torch.einsum("bk,knc->bnc", self.coefficients(E)[0], self.u_modes)

    def _strain(self, E, a):
        return E[:, None, :] + torch.einsum("bk,kqc->bqc", a, self.eps_modes)

    def _phase_blocks(self):
        return phase_blocks(self.phase, self.materials)

    def _per_phase(self, eps, law):
        """``law(material, strains)`` on each phase's quadrature points, back in quadrature order."""
        order, blocks = self._phase_blocks()
        val = torch.cat([law(m, eps[:, order[sl]]) for m, sl in blocks], dim=1)
        return torch.empty_like(val).index_copy_(1, order, val)

    def law_stress(self, E, a):
        """``σ_law(ε̄ + Σ a_i ε(φ_i))`` at the quadrature points, ``(B, Nq, 3)``."""
        return self._per_phase(self._strain(E, a), lambda m, e: m.stress_voigt(e))

    def constitutive_loss(self, E, reduce: str = "sample", norm: str = "compliance"):
        """Constitutive mismatch ``r = σ_law(ε̄ + Σ a ε(φ)) − Σ b ψ`` (no stress labels), relative to the
        stress of the homogeneous strain; summed over the batch before dividing (``"batch"``, a scalar) or
        per sample (``"sample"``, shape ``(B,)``).

        ``norm="compliance"`` measures ``r·C_t⁻¹ r`` with the local tangent (a strain-energy norm: where
        the matrix softens, a small stress mismatch is a large strain error), relative to the work of the
        homogeneous strain; ``"stress"`` is ``r:r`` relative to the homogeneous strain's ``σ:σ``. Both
        scales are independent of the network, so inflating the fluctuation cannot shrink the loss.
        """
        if norm not in ("compliance", "stress"):
            raise ValueError(f"norm: expected 'compliance' or 'stress', got {norm!r}")
        # a sum over the points: evaluated phase by phase on contiguous slices
        order, blocks = self._phase_blocks()
        w = self.weights[order]
        a, b = self.coefficients(E)
        eps = E[:, None, :] + torch.einsum("bk,kqc->bqc", a, self.eps_modes[:, order])
        r = (torch.cat([m.stress_voigt(eps[:, sl]) for m, sl in blocks], dim=1)
             - torch.einsum("bk,kqc->bqc", b, self.stress_modes[:, order]))
        k = torch.tensor(VOIGT_WEIGHTS, dtype=E.dtype, device=E.device)
        num = den = 0.0
        for m, sl in blocks:
            r_p, w_p = r[:, sl], w[sl]
            with torch.no_grad():
                ref = m.stress_voigt(E)              # the homogeneous strain: one value per phase
                if norm == "compliance":
                    den = den + w_p.sum() * (ref * E).sum(-1)
                    if m.constant_tangent:
                        S = torch.linalg.inv(m.tangent_voigt(E[:1])[0])
                    else:
                        S = torch.linalg.inv(m.tangent_voigt(eps[:, sl]))
                else:
                    den = den + w_p.sum() * (ref**2 @ k)
            if norm == "compliance":
                Sr = r_p @ S.T if S.dim() == 2 else (S @ r_p.unsqueeze(-1)).squeeze(-1)
                num = num + ((r_p * Sr).sum(-1) * w_p).sum(-1)
            else:
                num = num + (r_p**2 @ k) @ w_p
        den = den.abs()
        if reduce == "batch":
            return num.sum() / den.sum().clamp_min(1e-30)
        return num / den.clamp_min(1e-30)
