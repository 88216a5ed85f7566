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
(into the output space); ``processor.kind`` one of ``mlp``, ``graph``, ``mg``
(the rest of that dict are the processor's keyword arguments). ``seed``
(default 0) seeds the weight initialisation, so a spec fixes the initial model.
"""
from __future__ import annotations

import copy

import firedrake as fd
import torch

from ..fem.decoders import CoefficientDecoder, DirichletDecoder
from ..fem.encoders import CoefficientEncoder, InterpolationEncoder, L2ProjectionEncoder, MomentEncoder
from ..mesh.spec import MeshSpec, build_hierarchy
from ..processors import GraphProcessor, MLPProcessor, MultigridProcessor

__all__ = ["build_spon", "spaces_from_spec"]

_ENCODERS = {"coefficients": None, "moments": MomentEncoder, "l2": L2ProjectionEncoder,
             "interpolate": InterpolationEncoder}
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _space(mesh, d, name):
    try:
        return fd.FunctionSpace(mesh, d["family"], int(d["degree"]))
    except (KeyError, TypeError) as e:
        raise ValueError(f"spec[{name!r}]: expected {{'family': ..., 'degree': ...}}, got {d!r}") from e


def spaces_from_spec(spec: dict):
    """``(hierarchy, input space, output space)`` of a spec."""
    hier = build_hierarchy(MeshSpec.from_dict(spec["mesh"]))
    return hier, _space(hier[-1], spec["input"], "input"), _space(hier[-1], spec["output"], "output")


def build_spon(spec: dict):
    """A :class:`~spon.models.SPON` from ``spec`` (kept as ``model.spec``)."""
    from .spon import SPON

    spec = copy.deepcopy(spec)
    for key in ("mesh", "input", "output", "encoder", "decoder", "processor"):
        if key not in spec:
            raise ValueError(f"spec: missing key {key!r}")
    hier, U, V = spaces_from_spec(spec)
    enc = spec["encoder"]
    if enc not in _ENCODERS:
        raise ValueError(f"spec['encoder']: expected one of {sorted(_ENCODERS)}, got {enc!r}")
    if enc == "coefficients":
        if U.ufl_element() != V.ufl_element():
            raise ValueError("spec['encoder']: 'coefficients' needs input and output in the same space")
        encoder = CoefficientEncoder(U)
    else:
        encoder = _ENCODERS[enc](U, V)

    dec = dict(spec["decoder"])
    kind = dec.pop("kind", None)
    if kind == "dirichlet":
        boundary = dec.get("boundary", "on_boundary")
        if boundary != "on_boundary":
            valid = {int(m) for m in V.mesh().exterior_facets.unique_markers}
            asked = {int(b) for b in (boundary if isinstance(boundary, (list, tuple)) else [boundary])}
            if not asked <= valid:
                raise ValueError(f"spec['decoder']['boundary']: markers {sorted(asked - valid)} are not on the "
                                 f"mesh; expected 'on_boundary' or some of {sorted(valid)}")
        bc = fd.DirichletBC(V, float(dec.get("value", 0.0)), boundary)
        decoder = DirichletDecoder(V, bc, lifting=dec.get("lifting", "boundary"),
                                   interior=dec.get("interior", "values"))
    elif kind == "coefficients":
        decoder = CoefficientDecoder(V)
    else:
        raise ValueError(f"spec['decoder']['kind']: expected 'dirichlet' or 'coefficients', got {kind!r}")

    proc = dict(spec["processor"])
    pkind = proc.pop("kind", None)
    spec.setdefault("seed", 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(spec["seed"]))
        processor = _processor(pkind, proc, spec, hier, V)
    model = SPON(encoder, processor, decoder)
    dtype = spec.get("dtype", "float64")
    if dtype not in _DTYPES:
        raise ValueError(f"spec['dtype']: expected 'float32' or 'float64', got {dtype!r}")
    model.spec = spec
    return model.to(_DTYPES[dtype])


def _processor(pkind, proc, spec, hier, V):
    if pkind == "mlp":
        return MLPProcessor(V.dim(), V.dim(), **proc)
    if pkind == "graph":
        return GraphProcessor(V, **proc)
    if pkind == "mg":
        levels = int(proc.pop("levels", len(hier)))
        if levels > len(hier):
            raise ValueError(f"spec['processor']['levels']: the mesh has {len(hier)} levels, asked for {levels}")
        spec["processor"]["levels"] = levels  # fixed from now on, so the model can move meshes
        family, degree = spec["output"]["family"], int(spec["output"]["degree"])
        return MultigridProcessor([fd.FunctionSpace(m, family, degree) for m in hier[-levels:]], **proc)
    raise ValueError(f"spec['processor']['kind']: expected 'mlp', 'graph' or 'mg', got {pkind!r}")
