"""Build SPON models from a plain-dict spec, so checkpoints can rebuild them.

Example spec (Darcy: κ ∈ DG0 -> u ∈ CG1 with u = 0 on ∂Ω)::

    {"mesh": {"source": "unit_square", "h": 0.1, "refinements": 2},
     "input": {"family": "DG", "degree": 0},
     "output": {"family": "CG", "degree": 1},
     "encoder": "l2",
     "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": "on_boundary", "lifting": "harmonic"},
     # or several conditions: "bcs": [{"boundary": [1], "value": 0.0}, {"boundary": [2], "data": ...}]
     "processor": {"kind": "mg", "width": 32},
     "dtype": "float32"}

``encoder`` is one of ``coefficients``, ``moments``, ``l2``, ``interpolate``
(into the output space), or ``{"kind": "inverse_elasticity", "mu": ..., "lmbda": ...}``
(the linear elastic displacement for the input as body force, clamped where the
Dirichlet decoder is: :class:`~spon.fem.encoders.GreenEncoder`; with ``"with_source": true``
the force and that displacement, node by node); ``processor.kind`` one of ``mlp``, ``graph``, ``mg``
(the rest of that dict are the processor's keyword arguments). Each kind is one row
of a table in :mod:`spon.models.kinds`, which builds it and writes it back. ``seed``
(default 0) seeds the weight initialisation, so a spec fixes the initial model.
"""
from __future__ import annotations

import copy

import firedrake as fd
import numpy as np
import torch

from ..fem.checks import mesh_of
from ..fem.encoders import L2ProjectionEncoder, MomentEncoder
from ..fem.space_spec import space_from_spec, space_spec
from ..mesh.spec import MeshSpec, build_hierarchy, save_mesh
from ..processors.graph import block_size
from ..processors.shared_nodes import host_space
from .kinds import DECODERS, ENCODERS, PROCESSORS, Context, decoder_latent_space
from .spon import SPON

__all__ = ["build_spon", "spaces_from_spec", "spec_from_model", "with_mesh"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_DATA_GROUP = "spon_boundary_data"


def spaces_from_spec(spec: dict, comm=None):
    """``(hierarchy, input space, output space)`` of a spec, meshed on ``comm`` (default COMM_WORLD)."""
    hier = build_hierarchy(MeshSpec.from_dict(spec["mesh"]), comm)
    return (hier, space_from_spec(hier[-1], spec["input"], "spec['input']"),
            space_from_spec(hier[-1], spec["output"], "spec['output']"))


def _mesh_file_loader(spec):
    """``load(key)`` of boundary data kept in the spec's mesh file (a checkpointed user mesh)."""
    src = str(spec["mesh"].get("source", ""))
    path = src.split("#", 1)[0] if "#" in src else None

    def load(key):
        import h5py

        name = key.get("in_mesh_file") if isinstance(key, dict) else None
        if path is None or name is None:
            raise ValueError(f"spec['decoder']: boundary data {key!r} need a mesh from a CheckpointFile "
                             "(source 'file.h5#mesh') that holds them")
        with h5py.File(path, "r") as f:
            if f"{_DATA_GROUP}/{name}" not in f:
                raise ValueError(f"spec['decoder']: {path} holds no boundary data {name!r}")
            g = f[f"{_DATA_GROUP}/{name}"]
            return g["coordinates"][...], g["values"][...]
    return load


def _split_kind(entry, what):
    if isinstance(entry, str):
        return entry, {}
    if not isinstance(entry, dict):
        raise ValueError(f"spec[{what!r}]: expected a name or a dict with a 'kind', got {entry!r}")
    return entry.get("kind"), entry


def build_spon(spec: dict, comm=None):
    """A :class:`~spon.models.SPON` from ``spec`` (kept as ``model.spec``).

    ``comm``: the MPI communicator of its meshes; a data-parallel rank passes
    :func:`spon.training.fe_comm` (``COMM_SELF``), as it holds a whole copy.
    """
    spec = copy.deepcopy(spec)
    for key in ("mesh", "input", "output", "encoder", "decoder", "processor"):
        if key not in spec:
            raise ValueError(f"spec: missing key {key!r}")
    hier, U, V = spaces_from_spec(spec, comm)
    kind, dec = _split_kind(spec["decoder"], "decoder")
    # Z: the decoder's input space, where the processor works; E: the encoder's target, Z with U's shape
    Z = E = decoder_latent_space(dec, V)
    if len(V) > 1:
        # mixed outputs: the encoder keeps the input's own space; a dense processor maps it to all parts, or a
        # graph/multigrid processor on the shared node graph (Taylor-Hood: the P2 nodes)
        if spec["encoder"] != "coefficients":
            raise ValueError("spec: a mixed output space needs encoder 'coefficients' (the input's coefficients "
                             "go to the processor as they are)")
        E = U
    elif PROCESSORS.reads_input_space(_split_kind(spec["processor"], "processor")[0]):
        E = U        # a processor that reads the input in its own space (a coefficient at quadrature points)
    elif Z is not V and U.value_shape != ():       # divergence-free: the stream function's space, U's shape
        E = fd.VectorFunctionSpace(V.mesh(), Z.ufl_element(), dim=U.value_shape[0])
    ctx = Context(U=U, V=V, E=E, Z=Z, hier=hier, load=_mesh_file_loader(spec), spec=spec)
    decoder = ctx.decoder = DECODERS.build(kind, dec, ctx)
    encoder = ENCODERS.build(*_split_kind(spec["encoder"], "encoder"), ctx)
    if getattr(encoder, "with_source", False):     # (source, solution) per node: twice the channels
        E = fd.VectorFunctionSpace(V.mesh(), V.ufl_element().sub_elements[0], dim=2 * V.value_shape[0])

    pkind, proc = _split_kind(spec["processor"], "processor")
    proc = {k: v for k, v in proc.items() if k != "kind"}
    spec.setdefault("seed", 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(spec["seed"]))
        if len(Z) > 1 and pkind in ("graph", "mg"):     # one graph for every part: the host's nodes
            from ..processors import SharedNodeProcessor
            host = host_space(E, Z)
            inner = PROCESSORS.build(pkind, proc, ctx, host, sum(block_size(Ei) for Ei in E),
                                     sum(block_size(Zi) for Zi in Z), E.dim())
            processor = SharedNodeProcessor(inner, host, E, Z)
        else:
            c_in, c_out = (1, 1) if pkind == "mlp" else (block_size(E), block_size(Z))
            processor = PROCESSORS.build(pkind, proc, ctx, Z, c_in, c_out, E.dim())
    model = SPON(encoder, processor, decoder)
    dtype = spec.get("dtype", "float64")
    if dtype not in _DTYPES:
        raise ValueError(f"spec['dtype']: expected 'float32' or 'float64', got {dtype!r}")
    model.spec = spec
    return model.to(_DTYPES[dtype])


def spec_from_model(model, mesh_path) -> dict:
    """The spec of a SPON built by hand from a user's own mesh and spaces.

    Writes the base mesh (the coarsest level of its ``MeshHierarchy``, or the
    mesh itself) to a Firedrake ``CheckpointFile`` at ``mesh_path``, with the
    Dirichlet data that vary along the boundary beside it (by node coordinates);
    the spec refers to both, so :func:`build_spon` rebuilds the same spaces and
    conditions (a hierarchy refines the same way again) in a fresh process.
    Raises a ``ValueError`` naming what the spec cannot describe.
    """
    from firedrake.mg.utils import get_level

    U, V = model.encoder.U, model.decoder.V
    mesh = mesh_of(V)
    if mesh_of(U) is not mesh:
        raise ValueError("model: expected its input and output spaces on one mesh")
    hierarchy, level = get_level(mesh)
    if hierarchy is not None and len(hierarchy) != len(hierarchy._meshes):
        raise ValueError("model: hierarchies with several refinements per level cannot be checkpointed")
    base = mesh if hierarchy is None else hierarchy[0]
    data = {}

    def store(coords, values):
        key = str(len(data))
        data[key] = (np.asarray(coords), np.asarray(values))
        return {"in_mesh_file": key}

    ctx = Context(U=U, V=V, decoder=model.decoder, store=store)
    spec = {"encoder": ENCODERS.spec(model.encoder, ctx), "decoder": DECODERS.spec(model.decoder, ctx),
            "processor": PROCESSORS.spec(model.processor, ctx)}
    source = save_mesh(base, mesh_path, extra={f"{_DATA_GROUP}/{k}/{n}": a for k, (c, v) in data.items()
                                               for n, a in (("coordinates", c), ("values", v))})
    return {"mesh": {"source": source, "h": 1.0, "refinements": 0 if hierarchy is None else int(level)},
            "input": space_spec(U), "output": space_spec(V), **spec,
            "dtype": "float32" if model.input_scale.dtype == torch.float32 else "float64"}


def with_mesh(model, mesh: dict):
    """The same learned processor on another mesh of the domain (no retraining).

    ``mesh`` is a :class:`~spon.mesh.MeshSpec` dict. Encoder, decoder and the
    processor's graphs/transfers are rebuilt there; learned weights are copied.
    Only processors that act node by node (graph, multigrid) can move, and
    only with a mesh-independent encoder (``l2``, ``interpolate``,
    ``coefficients``). :meth:`~spon.models.SPON.on_spaces` applies any model to
    data on another mesh instead, keeping the operator on its training mesh.
    """
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("with_mesh: the model has no .spec (build it with spon.models.build_spon)")
    if spec["processor"].get("kind") == "mlp":
        raise ValueError("with_mesh: an MLP processor acts on the whole DOF vector of its training mesh "
                         f"({model.decoder.V.dim()} DOFs) and cannot move to another mesh; use "
                         "model.on_spaces(U, V, bcs) to apply it to data on another mesh")
    if isinstance(model.encoder, MomentEncoder) and not isinstance(model.encoder, L2ProjectionEncoder):
        raise ValueError("with_mesh: the 'moments' encoder scales with the cell size, so the learned input "
                         "scale would be wrong on another mesh; use the 'l2' encoder, or "
                         "model.on_spaces(U, V, bcs)")
    other = build_spon({**spec, "mesh": dict(mesh)})
    other.processor.load_state_dict(model.processor.state_dict())
    other.input_scale.copy_(model.input_scale)
    other.output_scale.copy_(model.output_scale)
    return other.to(model.input_scale.device)
