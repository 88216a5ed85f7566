"""The kinds of encoder, decoder and processor a spec can name: one table each.

Every kind registers a ``build(entry, ctx)`` that makes the module from its
spec entry and a ``spec(module, ctx)`` that writes the entry back, so
:func:`~spon.models.build_spon` and :func:`~spon.models.factory.spec_from_model`
are inverse to each other for every registered kind. The CLI's choices come
from these tables too.

Examples
--------
>>> sorted(ENCODERS.names)
['coefficients', 'interpolate', 'inverse_elasticity', 'l2', 'moments']
>>> sorted(DECODERS.names), sorted(PROCESSORS.names)
(['coefficients', 'dirichlet', 'divergence_free', 'mixed'], ['coefficient_picard', 'graph', 'least_squares', 'linear_mg', 'mg', 'mlp', 'picard'])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import firedrake as fd

from ..fem.bcs import bc_from_spec, bc_spec, boundary_spec, check_boundary, dirichlet_mask
from ..fem.decoders import CoefficientDecoder, DirichletDecoder, DivergenceFreeDecoder, MixedDecoder
from ..fem.encoders import (CoefficientEncoder, GreenEncoder, InterpolationEncoder, L2ProjectionEncoder,
                            MomentEncoder)
from ..fem.forms import ElasticityForm
from ..processors import (GraphProcessor, LeastSquaresProcessor, LinearMultigridProcessor, MLPProcessor,
                          MultigridProcessor,
                          CoefficientPicardProcessor, PicardProcessor, SharedNodeProcessor)

__all__ = ["Kind", "Registry", "ENCODERS", "DECODERS", "PROCESSORS", "Context"]


@dataclass
class Context:
    """What a kind needs besides its own entry: the spaces, the hierarchy, and where boundary
    data live (``store(coords, values) -> key`` when writing, ``load(key)`` when reading)."""
    U: object = None            # the input space
    V: object = None            # the output space
    E: object = None            # the encoder's target
    Z: object = None            # the decoder's input space (where the processor works)
    hier: tuple = ()
    decoder: object = None
    store: Callable | None = None
    load: Callable | None = None
    spec: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    name: str
    types: tuple
    build: Callable
    spec: Callable


class Registry:
    """Kinds by name; a module's kind by its exact type."""

    def __init__(self, what: str):
        self.what, self.kinds = what, {}
        self.unwrap = lambda module: module      # a wrapper whose spec is its content's

    def register(self, name: str, types, build, spec) -> Kind:
        types = types if isinstance(types, tuple) else (types,)
        self.kinds[name] = Kind(name, types, build, spec)
        return self.kinds[name]

    def reads_input_space(self, name) -> bool:
        """Whether kind ``name`` takes the input in its own space (its types declare ``reads_input_space``)."""
        kind = self.kinds.get(name)
        return kind is not None and any(getattr(t, "reads_input_space", False) for t in kind.types)

    @property
    def names(self) -> list:
        return list(self.kinds)

    def build(self, name, entry: dict, ctx: Context, *args):
        if name not in self.kinds:
            raise ValueError(f"spec['{self.what}']['kind']: expected one of {self.names}, got {name!r}")
        return self.kinds[name].build(entry, ctx, *args)

    def spec(self, module, ctx: Context) -> dict:
        module = self.unwrap(module)
        for kind in self.kinds.values():
            if type(module) in kind.types:       # exact: L2ProjectionEncoder is a MomentEncoder too
                return kind.spec(module, ctx)
        raise ValueError(f"model: cannot checkpoint a {self.what} of kind {type(module).__name__}; registered "
                         f"kinds: {self.names}")


ENCODERS, DECODERS, PROCESSORS = Registry("encoder"), Registry("decoder"), Registry("processor")


# --- encoders: an entry is a name, or {"kind": ..., options} -----------------------------------------
def _coefficients_encoder(entry, ctx):
    if ctx.U.ufl_element() != ctx.E.ufl_element():
        raise ValueError("spec['encoder']: 'coefficients' needs the input in the processor's space "
                         f"{ctx.E.ufl_element()}, got {ctx.U.ufl_element()}")
    return CoefficientEncoder(ctx.U)


def _onto_latent(enc, ctx):
    """Encoders other than coefficients must land on the decoder's input space, on one mesh."""
    latent = ctx.decoder.Q if isinstance(ctx.decoder, DivergenceFreeDecoder) else ctx.V
    if len(latent) > 1:
        raise ValueError("model: a mixed output takes the 'coefficients' encoder")
    if enc.V.mesh() is not ctx.V.mesh() or enc.V.ufl_element().family() != latent.ufl_element().family():
        raise ValueError("model: expected an encoder onto the decoder's input space")


def _projection_encoder(name, cls):
    """A kind whose encoder maps the input space onto the decoder's input space (``cls(U, E)``)."""
    def spec(enc, ctx):
        _onto_latent(enc, ctx)
        return name
    ENCODERS.register(name, cls, lambda entry, ctx: cls(ctx.U, ctx.E), spec)


ENCODERS.register("coefficients", CoefficientEncoder, _coefficients_encoder, lambda enc, ctx: "coefficients")
for _name, _cls in (("moments", MomentEncoder), ("l2", L2ProjectionEncoder), ("interpolate", InterpolationEncoder)):
    _projection_encoder(_name, _cls)


def _lame(entry, where):
    try:
        return ElasticityForm(entry["mu"], entry["lmbda"])
    except (KeyError, ValueError):
        raise ValueError(f"{where}: 'inverse_elasticity' needs numbers 'mu' and 'lmbda', got {entry!r}") from None


def _green_encoder(entry, ctx):
    form = _lame(entry, "spec['encoder']")
    dec = ctx.decoder
    if not isinstance(dec, DirichletDecoder) or ctx.E.value_shape != (ctx.E.mesh().geometric_dimension,):
        raise ValueError("spec['encoder']: 'inverse_elasticity' needs a Dirichlet decoder (its boundary is "
                         "the clamped one) on a vector output space of the mesh's dimension")
    with_source = entry.get("with_source", False)
    if not isinstance(with_source, bool):
        raise ValueError(f"spec['encoder']['with_source']: expected true or false, got {with_source!r}")
    return GreenEncoder(ctx.U, ctx.E, dec.bcs, form, with_source=with_source)


def _green_encoder_spec(enc, ctx):
    if not isinstance(enc.operator, ElasticityForm):
        raise ValueError("model: a GreenEncoder checkpoints with an ElasticityForm operator (spon.fem.forms), got "
                         f"{type(enc.operator).__name__}")
    dec = ctx.decoder
    where = [str(boundary_spec(b)) for b in enc.bcs], [str(boundary_spec(b)) for b in getattr(dec, "bcs", [])]
    if not isinstance(dec, DirichletDecoder) or set(where[0]) != set(where[1]):
        raise ValueError("model: a GreenEncoder checkpoints clamped where its Dirichlet decoder is")
    return {"kind": "inverse_elasticity", "mu": enc.operator.mu, "lmbda": enc.operator.lmbda,
            **({"with_source": True} if enc.with_source else {})}


ENCODERS.register("inverse_elasticity", GreenEncoder, _green_encoder, _green_encoder_spec)


# --- decoders: {"kind": ..., options} ----------------------------------------------------------------
def decoder_latent_space(entry: dict, V):
    """The space the decoder reads (the processor's output space): the stream function's CG_k for a
    divergence-free decoder, else ``V``."""
    if entry.get("kind") == "divergence_free":
        k = int(entry.get("stream_degree", V.ufl_element().degree()))
        return fd.FunctionSpace(V.mesh(), "CG", k)
    return V


def _dirichlet_bcs(entry, V, ctx):
    if "bcs" in entry:
        if any(k in entry for k in ("value", "boundary")):
            raise ValueError("spec['decoder']: expected 'bcs' or 'value'/'boundary', not both")
        items = entry["bcs"]
        if not isinstance(items, (list, tuple)) or not items:
            raise ValueError(f"spec['decoder']['bcs']: expected a non-empty list of conditions, got {items!r}")
        return [bc_from_spec(V, b, ctx.load, f"spec['decoder']['bcs'][{i}]") for i, b in enumerate(items)]
    one = {"boundary": entry.get("boundary", "on_boundary"), "value": entry.get("value", 0.0)}
    return [bc_from_spec(V, one, ctx.load, "spec['decoder']")]


def _dirichlet(entry, ctx):
    V = ctx.V
    if len(V.value_shape) > 1:
        raise ValueError(f"spec['decoder']: a Dirichlet decoder needs a scalar or vector output space, "
                         f"got shape {V.value_shape}")
    bcs = _dirichlet_bcs(entry, V, ctx)
    interior, operator = entry.get("interior", "values"), None
    if interior == "inverse_elasticity":      # the Green's operator of isotropic linear elasticity
        interior, operator = "inverse_operator", _lame(entry, "spec['decoder']")
    return DirichletDecoder(V, bcs, lifting=entry.get("lifting", "boundary"), interior=interior, operator=operator)


def _dirichlet_spec(dec, ctx):
    items = [bc_spec(bc, dec.V, ctx.store, f"model.decoder.bcs[{i}]") for i, bc in enumerate(dec.bcs)]
    out = {"kind": "dirichlet"}
    if len(items) == 1 and "value" in items[0]:       # the one-condition form of earlier specs
        out |= {"value": items[0]["value"], "boundary": items[0]["boundary"]}
    else:
        out["bcs"] = items
    out |= {"lifting": dec.lifting, "interior": dec.interior}
    if dec.interior == "inverse_operator":
        if not isinstance(dec.operator, ElasticityForm):
            raise ValueError("model: a Dirichlet decoder with a user's operator checkpoints only with an "
                             f"ElasticityForm (spon.fem.forms), got {type(dec.operator).__name__}")
        out |= {"interior": "inverse_elasticity", "mu": dec.operator.mu, "lmbda": dec.operator.lmbda}
    return out


def _divergence_free(entry, ctx):
    Z = decoder_latent_space(entry, ctx.V)
    no_flux, boundary = entry.get("no_flux", False), entry.get("boundary")
    if no_flux and boundary is not None:
        raise ValueError("spec['decoder']: expected 'no_flux' (ψ = 0 on the whole boundary) or 'boundary' "
                         "(ψ takes per-sample data g there), not both")
    if "bcs" in entry:
        return DivergenceFreeDecoder(Z, ctx.V, bcs=_dirichlet_bcs(entry, Z, ctx))
    if boundary is not None:       # ψ from each sample's data: u·n there is that of the data
        return DivergenceFreeDecoder(Z, ctx.V, bcs=fd.DirichletBC(Z, 0.0, check_boundary(boundary, Z)))
    return DivergenceFreeDecoder(Z, ctx.V, bcs=fd.DirichletBC(Z, 0.0, "on_boundary") if no_flux else None)


def _divergence_free_spec(dec, ctx):
    out = {"kind": "divergence_free", "stream_degree": int(dec.Q.ufl_element().degree())}
    if not isinstance(dec.stream, DirichletDecoder):
        return out | {"no_flux": False}
    items = [bc_spec(bc, dec.Q, ctx.store, f"model.decoder.bcs[{i}]") for i, bc in enumerate(dec.stream.bcs)]
    if len(items) == 1 and items[0].get("value") == 0.0:
        if items[0]["boundary"] == "on_boundary":
            return out | {"no_flux": True}
        return out | {"boundary": items[0]["boundary"]}     # per-sample data there (the zero data unused)
    return out | {"bcs": items}


def _mixed(entry, ctx):
    V = ctx.V
    parts = entry.get("parts")
    if not isinstance(parts, (list, tuple)) or len(parts) != len(V):
        raise ValueError(f"spec['decoder']['parts']: expected {len(V)} decoder specs, one per subspace of the "
                         f"output, got {parts!r}")
    subs = [fd.FunctionSpace(Vi.mesh(), Vi.ufl_element()) for Vi in V]
    decs = []
    for d, Vi in zip(parts, subs):
        if not isinstance(d, dict) or d.get("kind") == "mixed":
            raise ValueError(f"spec['decoder']['parts']: expected a non-mixed decoder spec per part, got {d!r}")
        decs.append(DECODERS.build(d.get("kind"), d, Context(**{**ctx.__dict__, "V": Vi, "Z": Vi})))
    return MixedDecoder(V, decs)


def _mixed_spec(dec, ctx):
    return {"kind": "mixed", "parts": [DECODERS.spec(d, ctx) for d in dec.parts]}


DECODERS.register("dirichlet", DirichletDecoder, _dirichlet, _dirichlet_spec)
DECODERS.register("coefficients", CoefficientDecoder, lambda entry, ctx: CoefficientDecoder(ctx.V),
                  lambda dec, ctx: {"kind": "coefficients"})
DECODERS.register("divergence_free", DivergenceFreeDecoder, _divergence_free, _divergence_free_spec)
DECODERS.register("mixed", MixedDecoder, _mixed, _mixed_spec)


# --- processors: {"kind": ..., keyword arguments}; channels and sizes come from the spaces -----------
def _levels(entry, ctx):
    levels = int(entry.pop("levels", len(ctx.hier)))
    if levels > len(ctx.hier):
        raise ValueError(f"spec['processor']['levels']: the mesh has {len(ctx.hier)} levels, asked for {levels}")
    ctx.spec["processor"]["levels"] = levels        # fixed from now on, so the model can move meshes
    return levels


def _mg(entry, ctx, V, c_in, c_out, cls=MultigridProcessor):
    levels = _levels(entry, ctx)
    # the levels' node graphs are scalar; a vector's components are channels
    elem = V.ufl_element() if V.value_shape == () else V.ufl_element().sub_elements[0]
    entry = {k: v for k, v in entry.items() if k != "linear"}        # recorded, not an argument
    return cls([fd.FunctionSpace(m, elem) for m in ctx.hier[-levels:]],
               **{"in_channels": c_in, "out_channels": c_out, **entry})


PROCESSORS.register("mlp", MLPProcessor,
                    lambda entry, ctx, V, c_in, c_out, n_in: MLPProcessor(n_in, V.dim(), **entry),
                    lambda p, ctx: {"kind": "mlp", **{k: p.hparams[k] for k in ("width", "depth", "activation")}})
PROCESSORS.register("graph", GraphProcessor,
                    lambda entry, ctx, V, c_in, c_out, n_in: GraphProcessor(
                        V, **{"in_channels": c_in, "out_channels": c_out, **entry}),
                    lambda p, ctx: {"kind": "graph", **p.hparams})
PROCESSORS.register("mg", MultigridProcessor,
                    lambda entry, ctx, V, c_in, c_out, n_in: _mg(entry, ctx, V, c_in, c_out),
                    lambda p, ctx: {"kind": "mg", **p.hparams})
def _linear_mg(entry, ctx, V, c_in, c_out, n_in):
    if "dirichlet" not in entry:        # held where the Dirichlet decoder holds the output
        dec = ctx.decoder
        where = [boundary_spec(bc) for bc in getattr(dec, "bcs", [])] if isinstance(dec, DirichletDecoder) else []
        entry = {**entry, "dirichlet": "on_boundary" if not where or "on_boundary" in where
                 else sorted({m for w in where for m in w})}
        ctx.spec["processor"]["dirichlet"] = entry["dirichlet"]
    proc = _mg(entry, ctx, V, c_in, c_out, LinearMultigridProcessor)
    ctx.spec["processor"]["linear"] = proc.hparams["linear"]      # declared: exactly linear in the input
    return proc


PROCESSORS.register("linear_mg", LinearMultigridProcessor, _linear_mg,
                    lambda p, ctx: {"kind": "linear_mg", **p.hparams})


def _picard(entry, ctx, V, c_in, c_out, n_in):
    dec, enc = ctx.decoder, ctx.spec.get("encoder")
    plain_green = isinstance(enc, dict) and enc.get("kind") == "inverse_elasticity" and not enc.get("with_source")
    if not (isinstance(dec, DirichletDecoder) and plain_green) or c_in != c_out \
            or V.value_shape != (V.mesh().geometric_dimension,):
        raise ValueError("spec['processor']: 'picard' needs a Dirichlet decoder (its boundary is the clamped one) "
                         "on a vector space of the mesh's dimension, and the linear elastic displacement as input "
                         "(the 'inverse_elasticity' encoder without 'with_source')")
    args = {k: v for k, v in entry.items() if k not in ("mu", "lmbda")}
    return PicardProcessor(V, _lame(entry, "spec['processor']"), dirichlet_mask(V, dec.bcs, "V"), **args)


def _coefficient_picard(entry, ctx, V, c_in, c_out, n_in):
    dec, enc = ctx.decoder, ctx.spec.get("encoder")
    enc_kind = enc if isinstance(enc, str) else (enc or {}).get("kind")
    if not isinstance(dec, DirichletDecoder) or enc_kind != "coefficients" or V.value_shape != () \
            or ctx.U.value_shape != ():
        raise ValueError("spec['processor']: 'coefficient_picard' needs the 'coefficients' encoder of a scalar "
                         "coefficient and a Dirichlet decoder (zero data) on a scalar output space")
    if "bounds" not in entry:
        raise ValueError("spec['processor']: 'coefficient_picard' needs 'bounds': [low, high] of the coefficient")
    return CoefficientPicardProcessor(ctx.U, V, dirichlet_mask(V, dec.bcs, "V"), **entry)


PROCESSORS.register("coefficient_picard", CoefficientPicardProcessor, _coefficient_picard,
                    lambda p, ctx: {"kind": "coefficient_picard", **p.hparams})
PROCESSORS.register("picard", PicardProcessor, _picard,
                    lambda p, ctx: {"kind": "picard", "mu": p.form.mu, "lmbda": p.form.lmbda, **p.hparams})
PROCESSORS.register("least_squares", LeastSquaresProcessor,
                    lambda entry, ctx, V, c_in, c_out, n_in: LeastSquaresProcessor(n_in, V.dim(), **entry),
                    lambda p, ctx: {"kind": "least_squares", **p.hparams})
# a mixed output's graph or multigrid processor runs on the shared node graph: its spec is its inner one's
PROCESSORS.unwrap = lambda p: p.inner if isinstance(p, SharedNodeProcessor) else p
