"""EquiNO (Eivazi et al., arXiv 2504.07976) on Firedrake POD bases, and a σ̄(ε̄) MLP baseline.

The fluctuation is ``ũ = Σ a_i(ε̄) φ_i`` with ``φ_i`` POD modes of periodic FE
snapshots (periodic by construction); the micro stress is ``σ = Σ b_j(ε̄) ψ_j``
with ``ψ_j`` POD modes of equilibrated FE stress fields (equilibrated by
construction). A network gives ``(a, b)`` from ``ε̄``. Training needs no stress
labels: the loss is constitutive consistency at the quadrature points::

    r = σ_law(ε̄ + Σ a_i ε(φ_i)) − Σ b_j ψ_j,
    L = Σ_batch ⟨ r · C_t⁻¹ r ⟩ / Σ_batch ⟨ σ_law(ε̄) · ε̄ ⟩,

at strains drawn afresh in the box (Adam), then at fixed Latin-hypercube
collocation strains (L-BFGS). ``C_t`` is the local material tangent, so the
mismatch is measured as strain energy: where the matrix softens, a small stress
mismatch is a large strain error (``norm="stress"`` gives EquiNO's plain
``|r|²``). The coefficients vanish at ``ε̄ = 0``. ``σ̄ = Σ b_j ⟨ψ_j⟩`` is linear
in ``b``; the consistent tangent ``dσ̄/dε̄`` comes from autodiff.

Both surrogates answer :meth:`Surrogate.stress_and_tangent` for a batch of
strains and refuse strains outside their training box (``strict=True``).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..atomic import atomic_path
from . import materials as _materials

__all__ = ["pod", "Surrogate", "EquiNO", "StressMLP", "fit_equino", "fit_stress_mlp", "field_errors",
           "save_surrogate", "load_surrogate"]

_VOIGT_W = np.array([1.0, 1.0, 2.0])   # σ:σ = σxx² + σyy² + 2σxy²


def pod(X: np.ndarray, weights: np.ndarray, comp_weights=None, tol: float = 1e-8, n_max: int | None = None):
    """POD by the method of snapshots in the weighted inner product ``Σ_q w_q Σ_c k_c x_qc y_qc``.

    Returns ``T`` (k, S) with modes ``= T @ X`` (orthonormal), and the eigenvalues.
    ``k`` keeps a fraction ``1 - tol`` of the snapshot energy (at most ``n_max``).
    """
    S = X.shape[0]
    kc = np.ones(X.shape[-1]) if comp_weights is None else np.asarray(comp_weights)
    Xw = X * (weights[:, None] * kc)[None]
    K = Xw.reshape(S, -1) @ X.reshape(S, -1).T
    lam, V = np.linalg.eigh(K)
    lam, V = lam[::-1], V[:, ::-1]
    lam = np.clip(lam, 0, None)
    energy = np.cumsum(lam) / lam.sum()
    k = int(np.searchsorted(energy, 1 - tol) + 1)
    k = min(k, n_max or S, int(np.sum(lam > lam[0] * 1e-14)))
    return (V[:, :k] / np.sqrt(lam[:k])).T, lam


def _forward_with_jacobian(net: nn.Sequential, x: torch.Tensor):
    """``net(x)`` and ``d net / d x`` (B, out, in) by forward-mode chain rule through
    Linear/Tanh layers: one batched pass, no per-sample autograd."""
    J = torch.eye(x.shape[1], dtype=x.dtype, device=x.device).expand(x.shape[0], -1, -1)
    for layer in net:
        if isinstance(layer, nn.Linear):
            x = layer(x)
            J = torch.einsum("oi,bij->boj", layer.weight, J)
        elif isinstance(layer, nn.Tanh):
            x = torch.tanh(x)
            J = (1 - x**2)[:, :, None] * J
        else:
            raise TypeError(f"no forward Jacobian for {type(layer).__name__}")
    return x, J


def _mlp(n_in, n_out, width, depth):
    layers, d = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.Tanh()]
        d = width
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


class Surrogate(nn.Module):
    """A homogenised material ``ε̄ ↦ (σ̄, C̄)`` trained in the box ``[-box, box]³``."""

    def check_box(self, E: torch.Tensor, name: str = "strain", slack: float = 1e-9):
        if not isinstance(E, torch.Tensor) or E.ndim != 2 or E.shape[1] != 3:
            raise ValueError(f"{name}: expected a tensor of Voigt strains of shape (N, 3), got "
                             f"{getattr(E, 'shape', type(E).__name__)}")
        if E.dtype != self.box.dtype or E.device != self.box.device:
            raise TypeError(f"{name}: expected {self.box.dtype} on {self.box.device}, got {E.dtype} on {E.device}")
        if not torch.isfinite(E).all():
            raise ValueError(f"{name}: contains NaN or Inf")
        out = E.abs() > self.box * (1 + slack)
        if out.any():
            i = int(out.any(1).nonzero()[0])
            raise ValueError(f"{name}: {int(out.any(1).sum())} strain(s) lie outside the surrogate's training "
                             f"box [-{self.box[0].item():g}, {self.box[0].item():g}]^3, e.g. "
                             f"{E[i].tolist()}; refine the load steps or retrain on a larger box")

    def homogenised_stress(self, E: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def stress_and_tangent(self, E: torch.Tensor, strict: bool = True):
        """σ̄ (N, 3) and C̄ = dσ̄/dε̄ (N, 3, 3) by automatic differentiation, in one batched call."""
        if strict:
            self.check_box(E)
        return self._stress_and_tangent(E)

    def _stress_and_tangent(self, E):
        """Reverse mode per sample; subclasses override with one forward-mode pass."""
        def f(e):
            s = self.homogenised_stress(e[None])[0]
            return s, s

        C, s = torch.func.vmap(torch.func.jacrev(f, has_aux=True))(E)
        return s, C


class EquiNO(Surrogate):
    """EquiNO on POD bases; build with :meth:`from_snapshots`."""

    def __init__(self, n_u: int, n_sigma: int, n_q: int, n_dof: int, width: int = 64, depth: int = 3,
                 box: float = 0.04, materials: dict | None = None, meta: dict | None = None,
                 branches: int = 2):
        super().__init__()
        dt = torch.float64
        self.n_u, self.n_sigma = n_u, n_sigma
        self.meta = dict(meta or {}, n_u=n_u, n_sigma=n_sigma, n_q=n_q, n_dof=n_dof, width=width, depth=depth,
                         box=box, kind="EquiNO", branches=branches)
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
        self.nets = nn.ModuleList([_mlp(3, n, width, depth).to(dt) for n in
                                   ((n_u, n_sigma) if branches == 2 else (n_u + n_sigma,))])

    def net(self, x):
        return torch.cat([f(x) for f in self.nets], dim=1)

    @classmethod
    def from_snapshots(cls, snaps, quad, materials: dict, *, n_u=None, n_sigma=None, tol=1e-6,
                       width=64, depth=3, box=0.04, seed=0, meta=None, branches=2):
        """POD of the snapshot fluctuations and stresses (both kept as FE data)."""
        w = quad.weights
        Tu, lam_u = pod(snaps.u_q, w, tol=tol, n_max=n_u)
        Ts, lam_s = pod(snaps.stress_q, w, _VOIGT_W, tol=tol, n_max=n_sigma)
        torch.manual_seed(seed)
        m = cls(len(Tu), len(Ts), len(w), snaps.u.shape[1], width, depth, box, materials,
                meta=dict(meta or {}, materials=_material_spec(materials)), branches=branches)
        t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
        u_modes = np.einsum("ks,snc->knc", Tu, snaps.u)
        m.u_modes.copy_(t(u_modes))
        m.u_modes_q.copy_(t(np.einsum("ks,snc->knc", Tu, snaps.u_q)))
        m.eps_modes.copy_(t(np.stack([quad.strain_of(phi) for phi in u_modes])))
        psi = np.einsum("ks,snc->knc", Ts, snaps.stress_q)
        m.stress_modes.copy_(t(psi))
        m.stress_mean_modes.copy_(t(np.einsum("q,kqc->kc", w, psi) / w.sum()))
        m.weights.copy_(t(w))
        m.phase.copy_(torch.as_tensor(quad.phase))
        # coefficient scales from the snapshots' own projections (no stress labels in the loss)
        a = np.einsum("sqc,q,kqc->sk", snaps.u_q, w, m.u_modes_q.numpy())
        b = np.einsum("sqc,q,c,kqc->sk", snaps.stress_q, w, _VOIGT_W, psi)
        c = np.concatenate([a, b], axis=1)
        m.coef_scale.copy_(t(c.std(0) + 1e-12 * np.abs(c).max()))
        m.pod_energy = {"u": lam_u, "stress": lam_s}
        return m

    def coefficients(self, E):
        # c(0) = 0 exactly (no fluctuation, no stress at zero strain), so errors shrink with |ε̄|
        c = self.coef_scale * (self.net(E / self.box) - self.net(torch.zeros_like(E[:1])))
        return c[:, :self.n_u], c[:, self.n_u:]

    def homogenised_stress(self, E):
        return self.coefficients(E)[1] @ self.stress_mean_modes

    def _stress_and_tangent(self, E):
        y, J = _forward_with_jacobian(self.nets[-1], E / self.box)
        y, J = y[:, -self.n_sigma:], J[:, -self.n_sigma:]
        M = self.coef_scale[self.n_u:, None] * self.stress_mean_modes      # (n_sigma, 3)
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

    def _per_phase(self, eps, law):
        """``law(material, strains)`` on each phase's quadrature points, gathered back to ``(B, Nq, ...)``."""
        if not self.materials:
            raise RuntimeError("materials: EquiNO's loss needs the phase materials {id: Material}")
        out = None
        for pid, mat in self.materials.items():
            idx = (self.phase == pid).nonzero().squeeze(1)
            val = law(mat, eps.index_select(1, idx))
            if out is None:
                out = torch.zeros(*eps.shape[:2], *val.shape[2:], dtype=val.dtype, device=val.device)
            out = out.index_copy(1, idx, val)
        return out

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
        a, b = self.coefficients(E)
        eps = self._strain(E, a)
        law = self._per_phase(eps, lambda m, e: m.stress_voigt(e))
        r = law - torch.einsum("bk,kqc->bqc", b, self.stress_modes)
        with torch.no_grad():
            ref = self._per_phase(E[:, None, :].expand_as(eps), lambda m, e: m.stress_voigt(e))
            if norm == "compliance":
                S = self._per_phase(eps, lambda m, e: torch.linalg.inv(m.tangent_voigt(e)))
                den = torch.einsum("bqc,q,bc->b", ref, self.weights, E).abs()
            else:
                k = torch.tensor(_VOIGT_W, dtype=E.dtype, device=E.device)
                den = torch.einsum("bqc,q,c->b", ref**2, self.weights, k)
        if norm == "compliance":
            num = torch.einsum("bqc,q,bqcd,bqd->b", r, self.weights, S, r)
        else:
            num = torch.einsum("bqc,q,c->b", r**2, self.weights, k)
        if reduce == "batch":
            return num.sum() / den.sum().clamp_min(1e-30)
        return num / den.clamp_min(1e-30)


class StressMLP(Surrogate):
    """Data-driven baseline: an MLP fit of ``σ̄(ε̄)`` on the snapshots; tangent by autodiff."""

    def __init__(self, width=64, depth=3, box=0.04, meta=None):
        super().__init__()
        dt = torch.float64
        self.meta = dict(meta or {}, width=width, depth=depth, box=box, kind="StressMLP")
        self.register_buffer("box", torch.full((3,), float(box), dtype=dt))
        self.register_buffer("scale", torch.ones(3, dtype=dt))
        self.net = _mlp(3, 3, width, depth).to(dt)

    def homogenised_stress(self, E):
        return self.scale * self.net(E / self.box)

    def _stress_and_tangent(self, E):
        y, J = _forward_with_jacobian(self.net, E / self.box)
        return self.scale * y, self.scale[None, :, None] * J / self.box


def _material_spec(materials):
    return {int(k): [type(m).__name__, m.params()] for k, m in materials.items()}


def _materials_from_spec(spec):
    out = {}
    for k, (cls, params) in spec.items():
        C = getattr(_materials, cls, None)
        if C is None:
            return None    # a user material: the caller passes materials= on load
        out[int(k)] = C(**params)
    return out


def _cosine(opt, steps):
    steps = max(steps, 1)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))


def _shrink(E, fraction, g):
    """Scale a ``fraction`` of the strains by ``U(0, 1)²`` so small strains are sampled too."""
    n = int(round(fraction * len(E)))
    if n:
        E = E.clone()
        E[:n] *= torch.rand(n, 1, generator=g, dtype=E.dtype) ** 2
    return E


def fit_equino(model: EquiNO, steps: int = 3000, batch: int = 64, lr: float = 3e-3, seed: int = 0,
               lbfgs_steps: int = 0, collocation: int = 512, reduce: str = "sample", small_fraction: float = 0.25,
               progress: bool = True, callback=None) -> list:
    """Physics-informed training: Adam at strains drawn uniformly in the box each
    step, then (``lbfgs_steps > 0``) full-batch L-BFGS on ``collocation``
    Latin-hypercube strains, which drives the loss orders of magnitude lower.

    ``reduce="sample"`` averages per-strain relative losses, so small strains are
    fitted to the same relative accuracy as large ones; ``small_fraction`` of every
    batch is pulled towards ``ε̄ = 0`` (FE² meets many small strains)."""
    from tqdm.auto import tqdm, trange
    g = torch.Generator(device="cpu").manual_seed(seed)
    opt = torch.optim.Adam(model.nets.parameters(), lr=lr)
    sched = _cosine(opt, steps)
    hist = []
    bar = trange(steps, desc="EquiNO (constitutive loss)", disable=not progress)
    for step in bar:
        E = (2 * torch.rand(batch, 3, generator=g, dtype=torch.float64) - 1) * model.box.cpu()
        E = _shrink(E, small_fraction, g).to(model.box.device)
        loss = model.constitutive_loss(E, reduce=reduce).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"EquiNO loss became {loss.item()} at step {step}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.2e}")
        if callback:
            callback(step, loss.item())
    if lbfgs_steps:
        from .snapshots import latin_hypercube
        box = float(model.box[0])
        bar = tqdm(total=lbfgs_steps, desc="EquiNO (L-BFGS)", disable=not progress)
        # rounds of at most 200 iterations, each on fresh collocation strains
        for r in range(math.ceil(lbfgs_steps / 200)):
            its = min(200, lbfgs_steps - 200 * r)
            Ec = _shrink(torch.as_tensor(latin_hypercube(collocation, box, seed=seed + 1 + r), dtype=torch.float64),
                         small_fraction, g).to(model.box.device)
            opt = torch.optim.LBFGS(model.nets.parameters(), lr=1.0, max_iter=its, max_eval=its, history_size=50,
                                    tolerance_grad=1e-12, tolerance_change=1e-16, line_search_fn="strong_wolfe")

            def closure():
                opt.zero_grad()
                loss = model.constitutive_loss(Ec, reduce=reduce).mean()
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"EquiNO loss became {loss.item()} in L-BFGS")
                loss.backward()
                hist.append(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.2e}")
                return loss

            opt.step(closure)
        bar.close()
    return hist


def fit_stress_mlp(model: StressMLP, strains, stresses, steps: int = 3000, lr: float = 3e-3, seed: int = 0,
                   progress: bool = True) -> list:
    """Full-batch data fit of σ̄ on snapshot pairs."""
    from tqdm.auto import trange
    torch.manual_seed(seed)
    E = torch.as_tensor(strains, dtype=torch.float64)
    S = torch.as_tensor(stresses, dtype=torch.float64)
    model.scale.copy_(S.abs().amax(0))
    opt = torch.optim.Adam(model.net.parameters(), lr=lr)
    sched = _cosine(opt, steps)
    hist = []
    for _ in trange(steps, desc="σ̄ MLP (data)", disable=not progress):
        loss = (((model.homogenised_stress(E) - S) / model.scale) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append(loss.item())
    return hist


def _rel(pred, true, w):
    return np.sqrt(np.einsum("sq,q->s", (pred - true) ** 2, w) / np.einsum("sq,q->s", true**2, w))


@torch.no_grad()
def field_errors(model: Surrogate, snaps, quad) -> dict:
    """Held-out errors, each the mean over samples of a relative L² norm over the RVE.

    ``u_x``, ``u_y``: total micro displacement ``ε̄·x + ũ`` (EquiNO's definition);
    ``fluct_x``, ``fluct_y``: the fluctuation ``ũ`` alone (stricter);
    ``sigma_*``: micro stress fields; ``sigma_bar``, ``tangent``: homogenised response.
    """
    w = quad.weights
    E = torch.as_tensor(snaps.strain)
    out = {}
    if isinstance(model, EquiNO):
        u, s = (x.numpy() for x in model.fields(E))
        X = quad.x
        lin = np.stack([snaps.strain[:, None, 0] * X[None, :, 0] + 0.5 * snaps.strain[:, None, 2] * X[None, :, 1],
                        0.5 * snaps.strain[:, None, 2] * X[None, :, 0] + snaps.strain[:, None, 1] * X[None, :, 1]], -1)
        for c, name in enumerate(("x", "y")):
            out[f"u_{name}"] = float(_rel(lin[..., c] + u[..., c], lin[..., c] + snaps.u_q[..., c], w).mean())
            out[f"fluct_{name}"] = float(_rel(u[..., c], snaps.u_q[..., c], w).mean())
        for c, name in enumerate(("sigma_xx", "sigma_yy", "sigma_xy")):
            out[name] = float(_rel(s[..., c], snaps.stress_q[..., c], w).mean())
    with torch.enable_grad():
        sb, C = model.stress_and_tangent(E, strict=False)
    sb, C = sb.detach().numpy(), C.detach().numpy()
    out["sigma_bar"] = float(np.mean(np.linalg.norm(sb - snaps.stress, axis=1) / np.linalg.norm(snaps.stress, axis=1)))
    out["tangent"] = float(np.mean(np.linalg.norm(C - snaps.tangent, axis=(1, 2))
                                   / np.linalg.norm(snaps.tangent, axis=(1, 2))))
    return out


def save_surrogate(model: Surrogate, path) -> None:
    """Atomic checkpoint: buffers, weights and the metadata to rebuild the model."""
    with atomic_path(path, ".pt") as tmp:
        torch.save({"meta": model.meta, "state_dict": model.state_dict()}, tmp)


def load_surrogate(path, materials: dict | None = None) -> Surrogate:
    """Rebuild a surrogate saved by :func:`save_surrogate` (pass ``materials`` for user laws)."""
    from pathlib import Path
    if not Path(path).is_file():
        raise FileNotFoundError(f"path: no surrogate checkpoint at {path}")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        meta = dict(ck["meta"])
    except Exception as e:
        raise ValueError(f"path: {path} is not a spon surrogate checkpoint ({e})") from None
    if meta.get("kind") == "EquiNO":
        mats = materials or _materials_from_spec(meta.get("materials", {}))
        m = EquiNO(meta["n_u"], meta["n_sigma"], meta["n_q"], meta["n_dof"], meta["width"], meta["depth"],
                   meta["box"], mats, meta=meta, branches=meta.get("branches", 1))
    elif meta.get("kind") == "StressMLP":
        m = StressMLP(meta["width"], meta["depth"], meta["box"], meta=meta)
    else:
        raise ValueError(f"path: {path} holds an unknown surrogate kind {meta.get('kind')!r}")
    m.load_state_dict(ck["state_dict"])
    return m
