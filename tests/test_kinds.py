"""The kind tables: build_spon and spec_from_model are inverse for every registered kind, and a model
written by spec_from_model (spaces, conditions, boundary data) predicts bit for bit in a fresh process."""
import os
import subprocess
import sys

import firedrake as fd
import pytest
import torch

from spon.fem import DirichletDecoder, ElasticityForm, GreenEncoder, L2ProjectionEncoder
from spon.fem.space_spec import space_from_spec, space_spec
from spon.mesh import MeshSpec, gmsh_mesh
from spon.models import SPON, build_spon, load_checkpoint, save_checkpoint
from spon.models.factory import spec_from_model
from spon.models.kinds import DECODERS, ENCODERS, PROCESSORS
from spon.processors import MultigridProcessor
from spon.training import fit_least_squares

MS = MeshSpec("unit_square", 0.4, 1).to_dict()
VEC = {"family": "CG", "degree": 1, "shape": [2]}
TH = {"mixed": [{"family": "CG", "degree": 2, "shape": [2]}, {"family": "CG", "degree": 1}]}
MG = {"kind": "mg", "width": 4, "coarse_width": 4, "coarse_layers": 1, "smooth": 1}
GRAPH = {"kind": "graph", "width": 4, "layers": 1}
LAME = {"mu": 1.0, "lmbda": 1.5}
# (input, output, encoder, decoder, processor): together every registered kind
CASES = {
    "l2_dirichlet_graph": ({"family": "DG", "degree": 0}, {"family": "CG", "degree": 1}, "l2",
                           {"kind": "dirichlet", "value": 0.5, "lifting": "harmonic"}, GRAPH),
    "moments_dirichlet_mlp": ({"family": "DG", "degree": 0}, {"family": "CG", "degree": 1}, "moments",
                              {"kind": "dirichlet", "value": 0.0, "boundary": [1, 3]},
                              {"kind": "mlp", "width": 8, "depth": 2}),
    "interpolate_coefficients_mg": ({"family": "CG", "degree": 2}, {"family": "CG", "degree": 1}, "interpolate",
                                    {"kind": "coefficients"}, MG),
    "l2_dirichlet_linear_mg": ({"family": "CG", "degree": 2}, {"family": "CG", "degree": 1}, "l2",
                               {"kind": "dirichlet", "value": 0.0}, {"kind": "linear_mg", "cycles": 2, "hidden": 4}),
    "coefficients_coefficients_mg": ({"family": "CG", "degree": 1}, {"family": "CG", "degree": 1}, "coefficients",
                                     {"kind": "coefficients"}, MG),
    "vector_green_decoder": (VEC, VEC, "l2", {"kind": "dirichlet", "value": [0.0, 0.1], "boundary": [1],
                                              "interior": "inverse_elasticity", **LAME},
                             {**GRAPH, "linear_skip": True}),
    "green_encoder_with_source": (VEC, VEC, {"kind": "inverse_elasticity", **LAME, "with_source": True},
                                  {"kind": "dirichlet", "value": 0.0, "boundary": [1]}, {**MG, "linear_skip": True}),
    "green_encoder_picard": (VEC, VEC, {"kind": "inverse_elasticity", **LAME},
                             {"kind": "dirichlet", "value": 0.0, "boundary": [1]},
                             {"kind": "picard", **LAME, "steps": 2, "width": 8, "depth": 1}),
    "coefficients_coefficient_picard": ({"family": "DG", "degree": 0}, {"family": "CG", "degree": 1}, "coefficients",
                                        {"kind": "dirichlet", "value": 0.0},
                                        {"kind": "coefficient_picard", "bounds": [1.0, 2.0], "steps": 2, "width": 4}),
    "divergence_free_no_flux": (VEC, {"family": "RT", "degree": 2}, "l2", {"kind": "divergence_free",
                                                                           "no_flux": True}, GRAPH),
    "divergence_free_data": ({"family": "CG", "degree": 2}, {"family": "RT", "degree": 2}, "coefficients",
                             {"kind": "divergence_free", "boundary": [1, 3]}, {**GRAPH, "linear_skip": True}),
    "mixed_shared_mg": (TH, TH, "coefficients",
                        {"kind": "mixed", "parts": [{"kind": "dirichlet", "value": 0.0}, {"kind": "coefficients"}]},
                        MG),
    "l2_dirichlet_least_squares": ({"family": "CG", "degree": 2}, {"family": "CG", "degree": 1}, "l2",
                                   {"kind": "dirichlet", "value": 0.25}, {"kind": "least_squares", "rank": 6}),
    "mixed_mlp": (VEC, TH, "coefficients",
                  {"kind": "mixed", "parts": [{"kind": "dirichlet", "value": 0.0}, {"kind": "coefficients"}]},
                  {"kind": "mlp", "width": 8}),
}


def _kind(entry):
    return entry if isinstance(entry, str) else entry["kind"]


def test_every_registered_kind_has_a_case():
    assert {_kind(c[2]) for c in CASES.values()} == set(ENCODERS.names)
    assert {_kind(c[3]) for c in CASES.values()} == set(DECODERS.names)
    assert {_kind(c[4]) for c in CASES.values()} == set(PROCESSORS.names)


def test_unregistered_kinds_are_named():
    spec = {"mesh": MS, "input": {"family": "CG", "degree": 1}, "output": {"family": "CG", "degree": 1},
            "encoder": "l2", "decoder": {"kind": "dirichlet"}, "processor": {"kind": "fourier"}}
    with pytest.raises(ValueError,
                       match=r"spec\['processor'\]\['kind'\]: expected one of \['mlp', 'graph', 'mg', 'linear_mg', "
                             r"'coefficient_picard', 'picard', 'least_squares'\]"):
        build_spon(spec)
    with pytest.raises(ValueError, match=r"spec\['encoder'\]\['kind'\]: expected one of"):
        build_spon({**spec, "encoder": "fft", "processor": GRAPH})
    with pytest.raises(ValueError, match=r"spec\['decoder'\]\['kind'\]: expected one of"):
        build_spon({**spec, "decoder": {"kind": "neumann"}, "processor": GRAPH})


@pytest.mark.parametrize("space", [{"family": "CG", "degree": 2}, VEC, {"family": "DG", "degree": 1,
                                   "shape": [2, 2]}, {"family": "RT", "degree": 2}, TH])
def test_space_spec_round_trip(space):
    mesh = fd.UnitSquareMesh(2, 2)
    V = space_from_spec(mesh, space)
    assert space_from_spec(mesh, space_spec(V)).ufl_element() == V.ufl_element()
    assert space_spec(space_spec(V)) == space_spec(V)
    old = {"family": "Lagrange", "degree": 1, "value_shape": [2]}    # datasets before 2026-12
    assert space_spec(old) == {"family": "Lagrange", "degree": 1, "shape": [2]}
    with pytest.raises(ValueError, match=r"space\['shape'\]: expected \[\], \[n\] or \[n, m\]"):
        space_spec({"family": "CG", "degree": 1, "shape": [2, 2, 2]})


def _plate_model():
    """The issue's user: a gmsh plate with a hole, 1 + x y on the outer edges and 0 on the hole, SPON-MG."""
    hierarchy = fd.MeshHierarchy(gmsh_mesh("plate_with_hole", 0.3, name="plate_kinds"), 1)
    levels = [fd.FunctionSpace(m, "CG", 1) for m in hierarchy]
    V = levels[-1]
    x, y = fd.SpatialCoordinate(V.mesh())
    bcs = [fd.DirichletBC(V, 1 + x * y, (1, 2, 3, 4)), fd.DirichletBC(V, 0.0, 5)]
    torch.manual_seed(0)
    return SPON(L2ProjectionEncoder(fd.FunctionSpace(V.mesh(), "DG", 0), V),
                MultigridProcessor(levels, width=4, coarse_width=4, smooth=1, coarse_layers=1),
                DirichletDecoder(V, bcs, lifting="harmonic"))


def _green_user_model():
    """A hand-built GreenEncoder with an ElasticityForm and a Function as the clamp's data (a component
    of which varies)."""
    hierarchy = fd.MeshHierarchy(fd.UnitSquareMesh(3, 3, name="green_kinds"), 1)
    V = fd.VectorFunctionSpace(hierarchy[-1], "CG", 1)
    x, y = fd.SpatialCoordinate(V.mesh())
    g = fd.Function(V).interpolate(fd.as_vector([0.0, 0.1 * y * y]))
    bcs = [fd.DirichletBC(V, g, 1)]
    form = ElasticityForm(**LAME)
    torch.manual_seed(1)
    return SPON(GreenEncoder(V, V, bcs, form), MultigridProcessor([fd.VectorFunctionSpace(m, "CG", 1)
                                                                  for m in hierarchy], width=4, coarse_width=4,
                                                                 smooth=1, coarse_layers=1, linear_skip=True),
                DirichletDecoder(V, bcs, interior="inverse_operator", operator=form))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every case built from its spec, then written by spec_from_model (its .spec removed), with inputs
    and predictions; and the two hand-built models."""
    tmp = tmp_path_factory.mktemp("kinds")
    models = {}
    for name, (inp, out, enc, dec, proc) in CASES.items():
        m = build_spon({"mesh": MS, "input": inp, "output": out, "encoder": enc, "decoder": dec, "processor": proc,
                        "dtype": "float64", "seed": 3})
        if proc["kind"] == "least_squares":      # fitted: zero weights would reload trivially
            g = torch.Generator().manual_seed(5)
            fit_least_squares(m, torch.randn(8, m.encoder.U.dim(), dtype=torch.float64, generator=g),
                              torch.randn(8, m.decoder.in_dim, dtype=torch.float64, generator=g))
        models[name] = (m, dict(m.spec))
        del m.spec                      # saved as a user's own model: through spec_from_model
    models["plate_two_bcs"] = (_plate_model().double(), None)
    models["green_user"] = (_green_user_model().double(), None)
    want = {}
    for name, (m, _) in models.items():
        x = torch.randn(2, m.encoder.U.dim(), dtype=torch.float64, generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            want[name] = (x, m(x))
        save_checkpoint(m, tmp / f"{name}.pt")
    torch.save(want, tmp / "want.pt")
    return tmp, models, want


def _subset(a, b):
    """Every entry of ``a`` is in ``b`` with the same value (``b`` may add the defaults it filled in)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and all(k in b and _subset(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_subset, a, b))
    return a == b


@pytest.mark.parametrize("name", sorted(CASES))
def test_spec_from_model_inverts_build_spon(saved, tmp_path, name):
    tmp, models, _ = saved
    model, spec = models[name]
    written = load_checkpoint(tmp / f"{name}.pt").spec
    mesh = fd.UnitSquareMesh(1, 1)
    for key in ("input", "output"):         # 'CG' comes back as 'Lagrange': the same element
        assert space_from_spec(mesh, written[key]).ufl_element() == space_from_spec(mesh, spec[key]).ufl_element()
    for key in ("encoder", "decoder", "processor"):
        assert _subset(spec[key], written[key]), (key, spec[key], written[key])
    rebuilt = build_spon(written)               # and writing the rebuilt model gives the same spec again
    del rebuilt.spec
    again = spec_from_model(rebuilt, tmp_path / "again.mesh.h5")
    assert all(again[k] == written[k] for k in ("input", "output", "encoder", "decoder", "processor"))


def test_two_dirichlet_conditions_with_varying_data_are_written_beside_the_mesh(saved):
    tmp, models, _ = saved
    spec = load_checkpoint(tmp / "plate_two_bcs.pt").spec
    assert [b["boundary"] for b in spec["decoder"]["bcs"]] == [[1, 2, 3, 4], [5]]
    assert spec["decoder"]["bcs"][0]["data"] == {"in_mesh_file": "0"} and spec["decoder"]["bcs"][1]["value"] == 0.0
    import h5py
    with h5py.File(tmp / "plate_two_bcs.mesh.h5", "r") as f:
        assert "spon_boundary_data/0/values" in f


def test_every_kind_reloads_bit_for_bit_in_a_fresh_process(saved):
    tmp, models, want = saved
    code = (f"import torch; torch.set_num_threads({torch.get_num_threads()})\n"
            "from spon.models import load_checkpoint\n"
            f"want = torch.load({str(tmp / 'want.pt')!r})\n"
            "got = {}\n"
            "for name, (x, _) in want.items():\n"
            f"    m = load_checkpoint({str(tmp)!r} + f'/{{name}}.pt')\n"
            "    with torch.no_grad():\n"
            "        got[name] = m(x)\n"
            f"torch.save(got, {str(tmp / 'got.pt')!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    got = torch.load(tmp / "got.pt")
    assert set(got) == set(want) and len(got) == len(CASES) + 2
    for name, (_, y) in want.items():
        assert torch.equal(got[name], y), name
    # the plate's data: 1 + x y on the outer edges, 0 on the hole, exactly, after the round trip
    plate = load_checkpoint(tmp / "plate_two_bcs.pt")
    V = plate.decoder.V
    xy = fd.Function(fd.VectorFunctionSpace(V.mesh(), "CG", 1)).interpolate(fd.SpatialCoordinate(V.mesh()))
    X = torch.as_tensor(xy.dat.data_ro)
    outer, hole = (torch.as_tensor(bc.nodes) for bc in plate.decoder.bcs)
    u = got["plate_two_bcs"]
    hole_only = hole[~torch.isin(hole, outer)]
    assert torch.equal(u[:, hole_only], torch.zeros(2, len(hole_only), dtype=torch.float64))
    assert (u[:, outer] - (1 + X[outer, 0] * X[outer, 1])).abs().max() < 1e-14


def test_what_spec_from_model_cannot_write_is_named(tmp_path):
    mesh = fd.UnitSquareMesh(3, 3)
    V = fd.VectorFunctionSpace(mesh, "CG", 1)
    from spon.processors import GraphProcessor
    user_form = lambda u, v: fd.inner(fd.grad(u), fd.grad(v)) * fd.dx   # noqa: E731
    model = SPON(L2ProjectionEncoder(V, V), GraphProcessor(V, width=4, layers=1),
                 DirichletDecoder(V, fd.DirichletBC(V.sub(0), 0.0, 1)))
    with pytest.raises(ValueError, match=r"model.decoder.bcs\[0\]: only conditions on the whole space"):
        save_checkpoint(model, tmp_path / "component.pt")
    model = SPON(GreenEncoder(V, V, fd.DirichletBC(V, 0.0, 1), user_form), GraphProcessor(V, width=4, layers=1),
                 DirichletDecoder(V, fd.DirichletBC(V, 0.0, 1)))
    with pytest.raises(ValueError, match="a GreenEncoder checkpoints with an ElasticityForm"):
        save_checkpoint(model, tmp_path / "green.pt")
    assert not (tmp_path / "green.pt").exists()


def test_boundary_data_come_back_by_coordinates_not_by_order():
    """Stored nodes in another order (as a renumbered mesh would give) land on the right nodes; a node
    that is not on the boundary is refused."""
    import numpy as np
    from spon.fem.bcs import bc_from_spec, bc_spec

    mesh = fd.UnitSquareMesh(4, 4)
    V = fd.FunctionSpace(mesh, "CG", 2)
    x, y = fd.SpatialCoordinate(mesh)
    kept = {}
    entry = bc_spec(fd.DirichletBC(V, 1 + x * y, (2, 4)), V, store=lambda c, v: kept.update(c=c, v=v) or "k")
    perm = np.random.default_rng(0).permutation(len(kept["v"]))
    bc = bc_from_spec(V, entry, load=lambda key: (kept["c"][perm], kept["v"][perm]))
    want, got = fd.Function(V), fd.Function(V)
    fd.DirichletBC(V, 1 + x * y, (2, 4)).apply(want)
    bc.apply(got)
    assert np.array_equal(got.dat.data_ro, want.dat.data_ro)
    moved = kept["c"].copy()
    moved[0] += 0.3
    with pytest.raises(ValueError, match=r"\['data'\]: the stored boundary nodes .* are not those of this mesh"):
        bc_from_spec(V, entry, load=lambda key: (moved, kept["v"]))
