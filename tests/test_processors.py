"""Processors: shapes, batching, mesh-independent weights, and the V-cycle."""
import firedrake as fd
import numpy as np
import pytest
import torch

from spon.mesh import MeshSpec, build_hierarchy
from spon.processors import GraphProcessor, MLPProcessor, MultigridProcessor, Transfer


@pytest.fixture(scope="module")
def hierarchy_spaces():
    return [fd.FunctionSpace(m, "CG", 1) for m in build_hierarchy(MeshSpec("unit_square", 0.25, 2))]


def _processors(spaces):
    torch.manual_seed(0)
    V = spaces[-1]
    return {
        "mlp": MLPProcessor(V.dim(), V.dim(), width=16, depth=2),
        "graph": GraphProcessor(V, width=8, layers=2).double(),
        "mg": MultigridProcessor(spaces, width=8, coarse_width=12, smooth=1, coarse_layers=2).double(),
    }


@pytest.mark.parametrize("kind", ["mlp", "graph", "mg"])
def test_shapes_and_batch_independence(hierarchy_spaces, kind):
    P = _processors(hierarchy_spaces)[kind]
    n = hierarchy_spaces[-1].dim()
    x = torch.randn(5, n, dtype=torch.float64)
    y = P(x)
    assert y.shape == (5, n)
    # each sample is processed on its own: batching changes nothing
    ys = torch.cat([P(x[i:i + 1]) for i in range(5)])
    assert torch.allclose(y, ys, atol=1e-12)
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, "):
        P(torch.randn(2, n + 1, dtype=torch.float64))


def test_graph_edges_are_the_sparsity_pattern(hierarchy_spaces):
    V = hierarchy_spaces[0]
    P = GraphProcessor(V, width=4, layers=1)
    s, t = P.graph.edge_index
    # P1: DOFs are vertices and edges are mesh edges, both directions
    n_edges = V.mesh().topology.num_edges() if hasattr(V.mesh().topology, "num_edges") else None
    assert (s != t).all()
    assert set(zip(s.tolist(), t.tolist())) == set(zip(t.tolist(), s.tolist()))
    if n_edges is not None:
        assert len(s) == 2 * n_edges
    assert abs(P.graph.edge_attr[:, 2].mean().item() - 1.0) < 1e-12  # lengths scaled by the mean


def test_graph_weights_move_between_meshes():
    """One set of weights, two meshes of the square: for a smooth input the outputs agree
    (interpolated onto one mesh) up to discretisation error, and rebinding keeps weights."""
    torch.manual_seed(0)
    spaces = [fd.FunctionSpace(m, "CG", 1) for m in build_hierarchy(MeshSpec("unit_square", 0.1, 1))]
    A, B = spaces  # B is the refinement of A
    P = GraphProcessor(A, width=8, layers=2).double()
    before = {k: v.clone() for k, v in P.state_dict().items()}

    def run(V):
        x, y = fd.SpatialCoordinate(V.mesh())
        f = fd.Function(V).interpolate(fd.sin(np.pi * x) * y)
        out = P.bind(V)(torch.tensor(f.dat.data_ro).reshape(1, -1))[0].detach().numpy()
        g = fd.Function(V)
        g.dat.data[:] = out
        return g

    gA, gB = run(A), run(B)
    assert all(torch.equal(before[k], v) for k, v in P.state_dict().items())
    gA_on_B = fd.Function(B).interpolate(gA)
    rel = fd.errornorm(gA_on_B, gB) / fd.norm(gB)
    assert rel < 0.1, rel


def test_transfer_prolongs_linears_exactly_and_restriction_averages(hierarchy_spaces):
    Vc, Vf = hierarchy_spaces[0], hierarchy_spaces[1]
    T = Transfer(Vc, Vf).double()
    xc, yc = fd.SpatialCoordinate(Vc.mesh())
    xf, yf = fd.SpatialCoordinate(Vf.mesh())
    lc = torch.tensor(fd.Function(Vc).interpolate(1 + 2 * xc - 3 * yc).dat.data_ro).reshape(1, -1, 1)
    lf = torch.tensor(fd.Function(Vf).interpolate(1 + 2 * xf - 3 * yf).dat.data_ro).reshape(1, -1, 1)
    assert torch.max(torch.abs(T.prolong(lc) - lf)) <= 1e-12
    ones = torch.ones(1, Vf.dim(), 3, dtype=torch.float64)
    assert torch.max(torch.abs(T.restrict(ones) - 1)) <= 1e-12


def test_vcycle_receptive_field_is_global(hierarchy_spaces):
    """Two message-passing layers see two hops; one V-cycle over 3 levels sees the
    whole domain through the coarse level."""
    P = _processors(hierarchy_spaces)
    V = hierarchy_spaces[-1]
    X = torch.tensor(fd.Function(fd.VectorFunctionSpace(V.mesh(), "CG", 1)).interpolate(
        fd.SpatialCoordinate(V.mesh())).dat.data_ro)
    i = int(torch.argmin((X - torch.tensor([0.1, 0.1], dtype=torch.float64)).norm(dim=1)))
    j = int(torch.argmin((X - torch.tensor([0.9, 0.9], dtype=torch.float64)).norm(dim=1)))
    x = torch.randn(1, V.dim(), dtype=torch.float64)
    for kind, far_reaches in (("graph", False), ("mg", True)):
        J = torch.autograd.functional.jacobian(lambda z: P[kind](z)[0, i], x)[0]
        assert (J[j].abs().item() > 1e-8) == far_reaches, kind
        assert J[i].abs().item() > 1e-8


def test_vcycle_levels_and_rebinding(hierarchy_spaces):
    P = _processors(hierarchy_spaces)["mg"]
    assert [g.n_nodes for g in P.graphs] == [V.dim() for V in hierarchy_spaces]
    with pytest.raises(ValueError, match=r"spaces: expected 3 levels, got 2"):
        P.bind(hierarchy_spaces[1:])
    with pytest.raises(ValueError, match=r"spaces: expected at least 2 levels"):
        MultigridProcessor(hierarchy_spaces[:1])


def _same_mesh_two_numberings(h=0.25):
    from spon.mesh.gmsh_io import generate_msh
    path = str(generate_msh("unit_square", h))
    return fd.Mesh(path, reorder=True, name="renumbered"), fd.Mesh(path, reorder=False, name="file_order")


def _by_position(V, values):
    """Values ``(batch, nodes, c)`` sorted by node position, so two numberings compare."""
    from spon.fem import dof_coordinates
    X = dof_coordinates(V)
    order = np.lexsort((X[:, 1].round(12), X[:, 0].round(12)))
    return values[:, order]


@pytest.mark.parametrize("kind", ["graph", "mg"])
@pytest.mark.parametrize("shape", [(), (2,)])
def test_prediction_is_independent_of_the_dof_numbering(kind, shape):
    """The same weights on the same mesh numbered two ways give the same field: the
    processors see only graphs, coordinates and transfers, never DOF positions."""
    from spon.fem import dof_coordinates
    bases = _same_mesh_two_numberings()
    X = [dof_coordinates(fd.FunctionSpace(b, "CG", 1)) for b in bases]
    assert X[0].shape == X[1].shape and not np.allclose(X[0], X[1])      # two different numberings
    outs = []
    for base in bases:
        meshes = fd.MeshHierarchy(base, 1) if kind == "mg" else [base]
        spaces = [fd.FunctionSpace(m, "CG", 1) if shape == () else fd.VectorFunctionSpace(m, "CG", 1)
                  for m in meshes]
        V = spaces[-1]
        x, y = fd.SpatialCoordinate(V.mesh())
        expr = fd.sin(3 * x) * fd.cos(2 * y) if shape == () else fd.as_vector([fd.sin(3 * x), x * y])
        f = torch.as_tensor(fd.Function(V).interpolate(expr).dat.data_ro.copy()).reshape(1, -1)
        torch.manual_seed(0)
        proc = (GraphProcessor(V, width=8, layers=2) if kind == "graph" else
                MultigridProcessor(spaces, width=8, coarse_width=8, smooth=1, coarse_layers=1)).double()
        with torch.no_grad():
            out = proc(f).reshape(1, f.shape[1] // max(1, int(np.prod(shape))), -1)
        outs.append(_by_position(fd.FunctionSpace(V.mesh(), "CG", 1), out))
    assert torch.allclose(outs[0], outs[1], atol=1e-12, rtol=0)


def test_vector_channels_are_node_blocked():
    """A vector space's components are the channels of one node: swapping the two
    components of the input and of the lift weights leaves the prediction unchanged."""
    mesh = fd.UnitSquareMesh(4, 4)
    V = fd.VectorFunctionSpace(mesh, "CG", 1)
    proc = GraphProcessor(V, width=8, layers=1).double()
    assert proc.hparams["in_channels"] == proc.hparams["out_channels"] == 2
    x = torch.randn(2, V.dim(), dtype=torch.float64)
    with torch.no_grad():
        y = proc(x).reshape(2, -1, 2)
        lin = proc.lift[0]
        lin.weight[:, [0, 1]] = lin.weight[:, [1, 0]].clone()
        y_swapped = proc(x.reshape(2, -1, 2).flip(-1).reshape(2, -1)).reshape(2, -1, 2)
    assert torch.allclose(y, y_swapped, atol=1e-12)


def test_3d_transfers_reproduce_linear_functions_exactly():
    hierarchy = fd.MeshHierarchy(fd.UnitCubeMesh(2, 2, 2), 2)
    spaces = [fd.FunctionSpace(m, "CG", 1) for m in hierarchy]
    for Vc, Vf in zip(spaces[:-1], spaces[1:]):
        T = Transfer(Vc, Vf)
        lin = [fd.Function(V).interpolate(1 + 2 * fd.SpatialCoordinate(V.mesh())[0]
                                          - fd.SpatialCoordinate(V.mesh())[2]) for V in (Vc, Vf)]
        c, f = (torch.as_tensor(u.dat.data_ro.copy()).reshape(1, -1, 1) for u in lin)
        assert torch.allclose(T.prolong(c), f, atol=1e-12)
        ones = torch.ones(1, Vf.dim(), 1, dtype=torch.float64)
        assert torch.allclose(T.restrict(ones), torch.ones(1, Vc.dim(), 1, dtype=torch.float64), atol=1e-12)
    proc = MultigridProcessor(spaces, width=8, coarse_width=8, smooth=1, coarse_layers=1).double()
    assert proc(torch.randn(2, spaces[-1].dim(), dtype=torch.float64)).shape == (2, spaces[-1].dim())
    Vv = fd.VectorFunctionSpace(hierarchy[-1], "CG", 1)
    assert GraphProcessor(Vv, width=8, layers=1)(torch.zeros(1, Vv.dim())).shape == (1, Vv.dim())


def test_gmsh_tetrahedral_hierarchy_and_3d_multigrid():
    """A gmsh tetrahedral mesh (cube with a spherical hole) through MeshSpec, a 3-level
    MeshHierarchy, exact prolongation of linears and a V-cycle on it."""
    hierarchy = build_hierarchy(MeshSpec("cube_hole", 0.5, 2))
    assert len(hierarchy) == 3 and hierarchy[-1].topological_dimension == 3
    assert sorted(hierarchy[0].exterior_facets.unique_markers) == [1, 2]
    spaces = [fd.FunctionSpace(m, "CG", 1) for m in hierarchy]
    for Vc, Vf in zip(spaces[:-1], spaces[1:]):
        lin = [fd.Function(V).interpolate(2 - fd.SpatialCoordinate(V.mesh())[1] + 3 * fd.SpatialCoordinate(
            V.mesh())[2]) for V in (Vc, Vf)]
        c, f = (torch.as_tensor(u.dat.data_ro.copy()).reshape(1, -1, 1) for u in lin)
        assert torch.allclose(Transfer(Vc, Vf).prolong(c), f, atol=1e-12)
    proc = MultigridProcessor(spaces, width=8, coarse_width=8, smooth=1, coarse_layers=1).double()
    assert proc.graphs[-1].coords.shape[1] == 3 and proc.graphs[-1].edge_attr.shape[1] == 4
    assert proc(torch.randn(2, spaces[-1].dim(), dtype=torch.float64)).shape == (2, spaces[-1].dim())


def test_messages_after_the_mean_equal_messages_on_every_edge(hierarchy_spaces):
    """ψ is affine, so mean_j ψ(m_ij) = ψ(mean_j m_ij) on nodes with neighbours: applying it on the
    nodes (N) instead of the edges (about 6N) is the same layer, to round-off."""
    from spon.processors.graph import DOFGraph, MessagePassing

    torch.manual_seed(0)
    g = DOFGraph(hierarchy_spaces[-1]).double()
    mp = MessagePassing(8).double()
    with torch.no_grad():
        mp.msg.bias.normal_()
    h = torch.randn(3, g.n_nodes, 8, dtype=torch.float64)
    s, t = g.edge_index
    m = mp.msg(mp.act(mp.src(h).index_select(1, s) + mp.dst(h).index_select(1, t) + mp.edge(g.edge_attr)))
    agg = torch.zeros_like(h).index_add_(1, t, m) * g.inv_degree
    reference = h + mp.update(torch.cat([h, agg], dim=-1))
    assert torch.allclose(mp(h, g), reference, rtol=0, atol=1e-12)


def test_mlp_of_depth_zero_is_affine():
    """``depth=0``: one affine map (a linear operator fitted in closed form), P(αa + βb) = αP(a) + βP(b) when
    α + β = 1."""
    P = MLPProcessor(7, 5, depth=0)
    a, b = torch.randn(2, 7, dtype=torch.float64), torch.randn(2, 7, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(P(0.3 * a + 0.7 * b), 0.3 * P(a) + 0.7 * P(b), atol=1e-14)
    assert len(P.net) == 1
    with pytest.raises(ValueError, match="depth: expected a non-negative integer"):
        MLPProcessor(7, 5, depth=-1)
