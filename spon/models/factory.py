"""Build SPON models from a plain-dict spec, so checkpoints can rebuild them.

Example spec (Darcy: κ ∈ DG0 -> u ∈ CG1 with u = 0 on ∂Ω)::

    {"mesh": {"source": "unit_square", "h": 0.1, "refinements": 2},
     "input": {"family": "DG", "degree": 0},
     "output": {"family": "CG", "degree": 1},
     "encoder": "l2",
     "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": "on_boundary", "lifting": "harmonic"},
     "processor": {"kind": "mg", "width": 32},
     "dtype": "float32"}

``encoder`` is one of ``coefficients``, ``moments``, ``l2``, ``interpolate``
(into the output space), or ``{"kind": "inverse_elasticity", "mu": ..., "lmbda": ...}``
(the linear elastic displacement for the input as body force, clamped where the
Dirichlet decoder is: :class:`~spon.fem.encoders.GreenEncoder`; with ``"with_source": true``
the force and that displacement, node by node); ``processor.kind`` one of ``mlp``, ``graph``, ``mg``
(the rest of that dict are the processor's keyword arguments). ``seed``
(default 0) seeds the weight initialisation, so a spec fixes the initial model.
"""
from __future__ import annotations

import copy
import functools
import operator

import firedrake as fd
import numpy as np
import torch

from ..fem.decoders import CoefficientDecoder, DirichletDecoder, DivergenceFreeDecoder, MixedDecoder
from ..fem.encoders import (CoefficientEncoder, GreenEncoder, InterpolationEncoder, L2ProjectionEncoder,
                            MomentEncoder)
from ..mesh.spec import MeshSpec, build_hierarchy, save_mesh
from ..processors import GraphProcessor, MLPProcessor, MultigridProcessor, SharedNodeProcessor
from ..processors.graph import block_size
from ..processors.shared_nodes import host_space

__all__ = ["build_spon", "spaces_from_spec", "spec_from_model"]

_ENCODERS = {"coefficients": None, "moments": MomentEncoder, "l2": L2ProjectionEncoder,
             "interpolate": InterpolationEncoder}
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _space(mesh, d, name):
    """``{"family", "degree"}`` and optionally ``"shape"``: ``[n]`` a vector, ``[n, m]`` a tensor space;
    or ``{"mixed": [part, ...]}``, the product of the parts' spaces (e.g. Taylor–Hood)."""
    if isinstance(d, dict) and "mixed" in d:
        parts = d["mixed"]
        if not isinstance(parts, (list, tuple)) or len(parts) < 2:
            raise ValueError(f"spec[{name!r}]['mixed']: expected a list of at least 2 space specs, got {parts!r}")
        return functools.reduce(operator.mul, [_space(mesh, p, f"{name}.mixed") for p in parts])
    try:
        family, degree, shape = d["family"], int(d["degree"]), tuple(int(n) for n in d.get("shape", ()))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"spec[{name!r}]: expected {{'family': ..., 'degree': ..., 'shape': [...] (optional)}}, "
                         f"got {d!r}") from e
    if len(shape) == 0:
        return fd.FunctionSpace(mesh, family, degree)
    if len(shape) == 1:
        return fd.VectorFunctionSpace(mesh, family, degree, dim=shape[0])
    if len(shape) == 2:
        return fd.TensorFunctionSpace(mesh, family, degree, shape=shape)
    raise ValueError(f"spec[{name!r}]['shape']: expected [], [n] or [n, m], got {list(shape)}")


def _dirichlet_value(value, V):
    """A float for scalar spaces; a vector Constant for vector spaces (a float is repeated)."""
    shape = V.value_shape
    if isinstance(value, (list, tuple)):
        if len(shape) != 1 or len(value) != shape[0]:
            raise ValueError(f"spec['decoder']['value']: expected a float or {shape[0] if shape else 1} "
                             f"values for the output space of shape {shape}, got {value!r}")
        return fd.Constant(tuple(float(v) for v in value))
    return float(value) if shape == () else fd.Constant((float(value),) * int(shape[0]))


def spaces_from_spec(spec: dict, comm=None):
    """``(hierarchy, input space, output space)`` of a spec, meshed on ``comm`` (default COMM_WORLD)."""
    hier = build_hierarchy(MeshSpec.from_dict(spec["mesh"]), comm)
    return hier, _space(hier[-1], spec["input"], "input"), _space(hier[-1], spec["output"], "output")


def build_spon(spec: dict, comm=None):
    """A :class:`~spon.models.SPON` from ``spec`` (kept as ``model.spec``).

    ``comm``: the MPI communicator of its meshes; a data-parallel rank passes
    :func:`spon.training.fe_comm` (``COMM_SELF``), as it holds a whole copy.
    """
    from .spon import SPON

    spec = copy.deepcopy(spec)
    for key in ("mesh", "input", "output", "encoder", "decoder", "processor"):
        if key not in spec:
            raise ValueError(f"spec: missing key {key!r}")
    hier, U, V = spaces_from_spec(spec, comm)
    dec = dict(spec["decoder"])
    kind = dec.pop("kind", None)
    # Z: the decoder's input space, where the processor works; E: the encoder's target, Z with U's shape
    Z = E = V
    if len(V) > 1:
        # mixed outputs: the encoder keeps the input's own space; a dense processor maps it to all parts, or a
        # graph/multigrid processor on the shared node graph (Taylor-Hood: the P2 nodes)
        if spec["encoder"] != "coefficients":
            raise ValueError("spec: a mixed output space needs encoder 'coefficients' (the input's coefficients "
                             "go to the processor as they are)")
        E = U
    if kind == "divergence_free":
        k = int(dec.get("stream_degree", spec["output"]["degree"]))
        Z = fd.FunctionSpace(V.mesh(), "CG", k)
        E = Z if U.value_shape == () else fd.VectorFunctionSpace(V.mesh(), "CG", k, dim=U.value_shape[0])
    decoder = _decoder(kind, dec, V, Z)
    encoder = _encoder(spec["encoder"], U, E, decoder)
    if getattr(encoder, "with_source", False):     # (source, solution) per node: twice the channels
        E = fd.VectorFunctionSpace(V.mesh(), V.ufl_element().sub_elements[0], dim=2 * V.value_shape[0])

    proc = dict(spec["processor"])
    pkind = proc.pop("kind", None)
    spec.setdefault("seed", 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(spec["seed"]))
        if len(Z) > 1 and pkind in ("graph", "mg"):     # one graph for every part: the host's nodes
            host = host_space(E, Z)
            inner = _processor(pkind, proc, spec, hier, host, sum(block_size(Ei) for Ei in E),
                               sum(block_size(Zi) for Zi in Z), E.dim())
            processor = SharedNodeProcessor(inner, host, E, Z)
        else:
            c_in, c_out = (1, 1) if pkind == "mlp" else (block_size(E), block_size(Z))
            processor = _processor(pkind, proc, spec, hier, Z, c_in, c_out, E.dim())
    model = SPON(encoder, processor, decoder)
    dtype = spec.get("dtype", "float64")
    if dtype not in _DTYPES:
        raise ValueError(f"spec['dtype']: expected 'float32' or 'float64', got {dtype!r}")
    model.spec = spec
    return model.to(_DTYPES[dtype])


def _encoder(enc, U, E, decoder):
    """The encoder of a spec's ``encoder`` entry from ``U`` onto ``E``: a name, or
    ``{"kind": "inverse_elasticity", "mu": ..., "lmbda": ...}``, the linear elastic
    solution with the input as body force and the Dirichlet decoder's clamped DOFs."""
    if isinstance(enc, dict):
        if enc.get("kind") != "inverse_elasticity":
            raise ValueError(f"spec['encoder']['kind']: expected 'inverse_elasticity', got {enc.get('kind')!r}")
        try:
            mu, lmbda = float(enc["mu"]), float(enc["lmbda"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"spec['encoder']: 'inverse_elasticity' needs numbers 'mu' and 'lmbda', got {enc!r}") \
                from None
        if not isinstance(decoder, DirichletDecoder) or E.value_shape != (E.mesh().geometric_dimension,):
            raise ValueError("spec['encoder']: 'inverse_elasticity' needs a Dirichlet decoder (its boundary is "
                             "the clamped one) on a vector output space of the mesh's dimension")
        with_source = enc.get("with_source", False)
        if not isinstance(with_source, bool):
            raise ValueError(f"spec['encoder']['with_source']: expected true or false, got {with_source!r}")
        return GreenEncoder(U, E, decoder.bcs, _elasticity_form(mu, lmbda), with_source=with_source)
    if enc not in _ENCODERS:
        raise ValueError(f"spec['encoder']: expected one of {sorted(_ENCODERS)} or a dict of kind "
                         f"'inverse_elasticity', got {enc!r}")
    if enc == "coefficients":
        if U.ufl_element() != E.ufl_element():
            raise ValueError("spec['encoder']: 'coefficients' needs the input in the processor's space "
                             f"{E.ufl_element()}, got {U.ufl_element()}")
        return CoefficientEncoder(U)
    return _ENCODERS[enc](U, E)


def _decoder(kind, dec, V, Z):
    """The decoder of a spec's ``decoder`` entry (``dec`` without its kind) into ``V``;
    ``Z`` is the divergence-free decoder's stream-function space."""
    if kind == "dirichlet":
        boundary = _boundary(dec.get("boundary", "on_boundary"), V)
        if len(V.value_shape) > 1:
            raise ValueError(f"spec['decoder']: a Dirichlet decoder needs a scalar or vector output space, "
                             f"got shape {V.value_shape}")
        bc = fd.DirichletBC(V, _dirichlet_value(dec.get("value", 0.0), V), boundary)
        interior, operator = dec.get("interior", "values"), None
        if interior == "inverse_elasticity":      # the Green's operator of isotropic linear elasticity
            try:
                mu, lmbda = float(dec["mu"]), float(dec["lmbda"])
            except (KeyError, TypeError, ValueError):
                raise ValueError("spec['decoder']: interior 'inverse_elasticity' needs numbers 'mu' and "
                                 f"'lmbda', got {dec!r}") from None
            interior, operator = "inverse_operator", _elasticity_form(mu, lmbda)
        return DirichletDecoder(V, bc, lifting=dec.get("lifting", "boundary"), interior=interior,
                                operator=operator)
    elif kind == "coefficients":
        return CoefficientDecoder(V)
    elif kind == "divergence_free":
        no_flux, boundary = dec.get("no_flux", False), dec.get("boundary")
        if no_flux and boundary is not None:
            raise ValueError("spec['decoder']: expected 'no_flux' (ψ = 0 on the whole boundary) or 'boundary' "
                             "(ψ takes per-sample data g there), not both")
        if boundary is not None:       # ψ from each sample's data: u·n there is that of the data
            return DivergenceFreeDecoder(Z, V, bcs=fd.DirichletBC(Z, 0.0, _boundary(boundary, Z)))
        bcs = fd.DirichletBC(Z, 0.0, "on_boundary") if no_flux else None
        return DivergenceFreeDecoder(Z, V, bcs=bcs)
    if kind == "mixed":             # one decoder per subspace, each built on that subspace's own space
        parts = dec.get("parts")
        if not isinstance(parts, (list, tuple)) or len(parts) != len(V):
            raise ValueError(f"spec['decoder']['parts']: expected {len(V)} decoder specs, one per subspace of the "
                             f"output, got {parts!r}")
        subs = [fd.FunctionSpace(Vi.mesh(), Vi.ufl_element()) for Vi in V]
        return MixedDecoder(V, [_decoder(d.get("kind"), {k: v for k, v in d.items() if k != "kind"}, Vi, Vi)
                                for d, Vi in zip(parts, subs)])
    raise ValueError(f"spec['decoder']['kind']: expected 'dirichlet', 'coefficients', 'divergence_free' or "
                     f"'mixed', got {kind!r}")


def _boundary(boundary, V):
    """``boundary`` of a decoder spec, checked against the mesh's exterior facet markers."""
    if boundary == "on_boundary":
        return boundary
    valid = {int(m) for m in V.mesh().exterior_facets.unique_markers}
    asked = [int(b) for b in (boundary if isinstance(boundary, (list, tuple)) else [boundary])]
    if not set(asked) <= valid:
        raise ValueError(f"spec['decoder']['boundary']: markers {sorted(set(asked) - valid)} are not on the "
                         f"mesh; expected 'on_boundary' or some of {sorted(valid)}")
    return asked


def _spec_boundary(bc):
    """A ``DirichletBC``'s boundary as a spec records it: ``"on_boundary"`` or a list of markers."""
    sub = bc.sub_domain
    sub = list(sub) if isinstance(sub, (list, tuple)) else [sub]
    return "on_boundary" if sub == ["on_boundary"] else [int(b) for b in sub]


def _elasticity_form(mu, lmbda):
    def a(u, v):
        eps = fd.sym(fd.grad(u))
        return (2 * mu * fd.inner(eps, fd.sym(fd.grad(v))) + lmbda * fd.div(u) * fd.div(v)) * fd.dx
    return a


def _processor(pkind, proc, spec, hier, V, c_in, c_out, n_in):
    """The processor on the nodes of ``V`` (the decoder's input space), ``c_in`` values per
    node in (``n_in`` in all), ``c_out`` out."""
    if pkind == "mlp":
        return MLPProcessor(n_in, V.dim(), **proc)
    if pkind == "graph":
        return GraphProcessor(V, **{"in_channels": c_in, "out_channels": c_out, **proc})
    if pkind == "mg":
        levels = int(proc.pop("levels", len(hier)))
        if levels > len(hier):
            raise ValueError(f"spec['processor']['levels']: the mesh has {len(hier)} levels, asked for {levels}")
        spec["processor"]["levels"] = levels  # fixed from now on, so the model can move meshes
        # the levels' node graphs are scalar; a vector's components are channels
        elem = V.ufl_element() if V.value_shape == () else V.ufl_element().sub_elements[0]
        proc = {"in_channels": c_in, "out_channels": c_out, **proc}
        return MultigridProcessor([fd.FunctionSpace(m, elem) for m in hier[-levels:]], **proc)
    raise ValueError(f"spec['processor']['kind']: expected 'mlp', 'graph' or 'mg', got {pkind!r}")


def _element_spec(V, name):
    if len(V) > 1:
        return {"mixed": [_element_spec(Vi, name) for Vi in V]}
    e = V.ufl_element()
    if V.value_shape != ():
        e = e.sub_elements[0]
    out = {"family": e.family(), "degree": int(e.degree())}
    return out if V.value_shape == () else {**out, "shape": list(V.value_shape)}


def spec_from_model(model, mesh_path) -> dict:
    """The spec of a SPON built by hand from a user's own mesh and spaces.

    Writes the base mesh (the coarsest level of its ``MeshHierarchy``, or the
    mesh itself) to a Firedrake ``CheckpointFile`` at ``mesh_path``; the spec
    refers to it, so :func:`build_spon` rebuilds the same spaces (a hierarchy
    refines the same way again) in a fresh process. Raises a ``ValueError``
    naming what the spec cannot describe (non-scalar spaces, Function-valued or
    several Dirichlet conditions, encoders or processors of other kinds).
    """
    from firedrake.mg.utils import get_level

    U, V = model.encoder.U, model.decoder.V
    mesh = V.mesh()
    if U.mesh() is not mesh:
        raise ValueError("model: expected its input and output spaces on one mesh")
    latent = model.decoder.Q if isinstance(model.decoder, DivergenceFreeDecoder) else V
    if type(model.encoder) is not CoefficientEncoder and (
            model.encoder.V.mesh() is not mesh or model.encoder.V.ufl_element().family()
            != latent.ufl_element().family()):
        raise ValueError("model: expected an encoder onto the decoder's input space")
    hierarchy, level = get_level(mesh)
    if hierarchy is not None and len(hierarchy) != len(hierarchy._meshes):
        raise ValueError("model: hierarchies with several refinements per level cannot be checkpointed")
    base = mesh if hierarchy is None else hierarchy[0]
    kinds = {L2ProjectionEncoder: "l2", MomentEncoder: "moments", InterpolationEncoder: "interpolate",
             CoefficientEncoder: "coefficients"}
    if type(model.encoder) not in kinds:
        raise ValueError(f"model: cannot checkpoint an encoder of kind {type(model.encoder).__name__}")
    dec = model.decoder
    if isinstance(dec, DirichletDecoder):
        if len(dec.bcs) != 1:
            raise ValueError(f"model: expected one DirichletBC to checkpoint, got {len(dec.bcs)}")
        bc = dec.bcs[0]
        try:
            value = bc.function_arg
            if V.value_shape == ():
                value = float(value)
            else:                          # Firedrake keeps vector data as a Function: constant if all rows agree
                rows = value.dat.data_ro.reshape(-1, V.value_shape[0]) if hasattr(value, "dat") else \
                    np.asarray(value.values()).reshape(1, -1)
                if not np.all(rows == rows[0]):
                    raise ValueError("not constant")
                value = [float(v) for v in rows[0]]
        except Exception:
            raise ValueError("model: only constant Dirichlet data can be checkpointed (pass per-sample data "
                             "g to the model instead)") from None
        boundary = _spec_boundary(bc)
        if dec.interior == "inverse_operator":
            raise ValueError("model: a Dirichlet decoder with a user's operator cannot be checkpointed from its "
                             "spaces; build it from a spec (interior 'inverse_elasticity') instead")
        decoder = {"kind": "dirichlet", "value": value, "boundary": boundary, "lifting": dec.lifting,
                   "interior": dec.interior}
    elif type(dec) is CoefficientDecoder:
        decoder = {"kind": "coefficients"}
    elif isinstance(dec, DivergenceFreeDecoder):
        decoder = {"kind": "divergence_free", "stream_degree": int(dec.Q.ufl_element().degree())}
        if isinstance(dec.stream, DirichletDecoder):
            if len(dec.stream.bcs) != 1:
                raise ValueError("model: a divergence-free decoder checkpoints with one condition on ψ, got "
                                 f"{len(dec.stream.bcs)}")
            boundary = _spec_boundary(dec.stream.bcs[0])
            if boundary == "on_boundary":
                decoder["no_flux"] = True
            else:                          # per-sample data on these markers (the zero data are not used)
                decoder["boundary"] = boundary
        else:
            decoder["no_flux"] = False
    else:
        raise ValueError(f"model: cannot checkpoint a decoder of kind {type(dec).__name__}")
    proc = model.processor
    hp = dict(getattr(proc, "hparams", {}))
    if isinstance(proc, MLPProcessor):
        processor = {"kind": "mlp", **{k: hp[k] for k in ("width", "depth", "activation")}}
    elif isinstance(proc, MultigridProcessor):
        processor = {"kind": "mg", **hp}
    elif isinstance(proc, GraphProcessor):
        processor = {"kind": "graph", **hp}
    else:
        raise ValueError(f"model: cannot checkpoint a processor of kind {type(proc).__name__}")
    source = save_mesh(base, mesh_path)
    return {"mesh": {"source": source, "h": 1.0, "refinements": 0 if hierarchy is None else int(level)},
            "input": _element_spec(U, "input"), "output": _element_spec(V, "output"),
            "encoder": kinds[type(model.encoder)], "decoder": decoder, "processor": processor,
            "dtype": "float32" if model.input_scale.dtype == torch.float32 else "float64"}
