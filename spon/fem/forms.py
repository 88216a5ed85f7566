"""Named bilinear forms ``a(u, v)`` that a spec can record (Green's operators of encoders and decoders).

A user's own form is any callable ``a(u, v)``; these carry a ``spec`` so a
model that uses them can be checkpointed and rebuilt.

Examples
--------
>>> form = ElasticityForm(mu=1.0, lmbda=2.0)
>>> form.spec
{'kind': 'elasticity', 'mu': 1.0, 'lmbda': 2.0}
>>> form_from_spec(form.spec) == form
True
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ElasticityForm", "form_from_spec"]


@dataclass(frozen=True)
class ElasticityForm:
    """Isotropic linear elasticity, ``2μ ε(u) : ε(v) + λ div u div v``, Lamé parameters ``mu``, ``lmbda``."""
    mu: float
    lmbda: float

    def __post_init__(self):
        for k in ("mu", "lmbda"):
            try:
                object.__setattr__(self, k, float(getattr(self, k)))
            except (TypeError, ValueError):
                raise ValueError(f"{k}: expected a number, got {getattr(self, k)!r}") from None

    def __call__(self, u, v):
        import firedrake as fd

        eps = fd.sym(fd.grad(u))
        return (2 * self.mu * fd.inner(eps, fd.sym(fd.grad(v))) + self.lmbda * fd.div(u) * fd.div(v)) * fd.dx

    @property
    def spec(self) -> dict:
        return {"kind": "elasticity", "mu": self.mu, "lmbda": self.lmbda}


def form_from_spec(d: dict):
    """The form of a ``spec`` dict (``{"kind": "elasticity", "mu": ..., "lmbda": ...}``)."""
    if not isinstance(d, dict) or d.get("kind") != "elasticity":
        raise ValueError(f"form: expected {{'kind': 'elasticity', 'mu': ..., 'lmbda': ...}}, got {d!r}")
    try:
        return ElasticityForm(d["mu"], d["lmbda"])
    except KeyError:
        raise ValueError(f"form: 'elasticity' needs numbers 'mu' and 'lmbda', got {d!r}") from None
