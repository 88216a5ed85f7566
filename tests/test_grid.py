"""FE ↔ regular-grid maps (what grid operators such as FNO see): grid order, exactness, mask."""
import firedrake as fd
import numpy as np
import pytest
import torch

from spon.fem.grid import GridTransfer
from spon.mesh import gmsh_mesh


@pytest.fixture(scope="module")
def lshape():
    return gmsh_mesh("l_shape", h=0.2)


def _dofs(V, expr):
    return torch.as_tensor(fd.Function(V).interpolate(expr).dat.data_ro.copy())[None]


@pytest.mark.parametrize("degree", [1, 2])
def test_grid_values_are_in_grid_order(mesh, degree):
    """Grid value [j, i] is the function at (x_i, y_j): the VOM's own point order is undone."""
    V = fd.FunctionSpace(mesh, "CG", degree)
    g = GridTransfer(V, n=17)
    x, y = fd.SpatialCoordinate(mesh)
    gx, gy = np.meshgrid(g.x, g.y, indexing="xy")
    assert np.abs(g.to_grid_values(_dofs(V, x))[0].numpy() - gx).max() < 1e-9
    assert np.abs(g.to_grid_values(_dofs(V, y))[0].numpy() - gy).max() < 1e-9
    assert g.mask.all()


@pytest.mark.parametrize("degree", [1, 2])
def test_linear_function_survives_fe_grid_fe(mesh, degree):
    """Point evaluation and bilinear interpolation both reproduce linear functions exactly."""
    V = fd.FunctionSpace(mesh, "CG", degree)
    g = GridTransfer(V, n=23)
    x, y = fd.SpatialCoordinate(mesh)
    u = _dofs(V, 0.3 + 2 * x - 1.5 * y)
    back = g.from_grid_values(g.to_grid_values(u))
    assert (back - u).abs().max() < 1e-12


def test_input_and_output_spaces_differ(mesh):
    """DG0 input sampled on the grid, back onto CG1 nodes: a constant survives exactly."""
    K, V = fd.FunctionSpace(mesh, "DG", 0), fd.FunctionSpace(mesh, "CG", 1)
    g = GridTransfer(K, V, n=12)
    back = g.from_grid_values(g.to_grid_values(_dofs(K, fd.Constant(7.0))))
    assert back.shape == (1, V.dim()) and (back - 7.0).abs().max() < 1e-12


def test_non_square_domain_has_a_mask(lshape):
    """L-shape (-1,1)² minus [0,1]×[-1,0] in its bounding box: the mask is the domain, values
    are exact inside and zero outside."""
    V = fd.FunctionSpace(lshape, "CG", 1)
    g = GridTransfer(V, n=20)          # no grid line on x = 0 or y = 0
    gx, gy = np.meshgrid(g.x, g.y, indexing="xy")
    inside = ~((gx > 0) & (gy < 0))
    assert np.array_equal(g.mask.numpy(), inside)
    x, y = fd.SpatialCoordinate(lshape)
    vals = g.to_grid_values(_dofs(V, 1 + x + 2 * y))[0].numpy()
    assert np.abs(vals[inside] - (1 + gx + 2 * gy)[inside]).max() < 1e-12
    assert np.all(vals[~inside] == 0)


def test_bad_inputs(mesh):
    with pytest.raises(ValueError, match="U: expected a scalar function space"):
        GridTransfer(fd.VectorFunctionSpace(mesh, "CG", 1))
    with pytest.raises(ValueError, match="n: expected an integer >= 2"):
        GridTransfer(fd.FunctionSpace(mesh, "CG", 1), n=1)
    with pytest.raises(ValueError, match="bbox: expected"):
        GridTransfer(fd.FunctionSpace(mesh, "CG", 1), bbox=((0, 0), (0, 1)))


def test_linear_function_survives_fe_grid_fe_in_3d():
    """3D: grid value [k, j, i] is the function at (x_i, y_j, z_k), and trilinear interpolation
    brings a linear function back to the nodes exactly."""
    mesh = fd.UnitCubeMesh(3, 3, 3)
    V = fd.FunctionSpace(mesh, "CG", 2)
    g = GridTransfer(V, n=7)
    x, y, z = fd.SpatialCoordinate(mesh)
    u = _dofs(V, 0.3 + 2 * x - 1.5 * y + 0.5 * z)
    grid = g.to_grid_values(u)
    gz, gy, gx = np.meshgrid(g.z, g.y, g.x, indexing="ij")
    assert grid.shape == (1, 7, 7, 7) and g.mask.all()
    assert np.abs(grid[0].numpy() - (0.3 + 2 * gx - 1.5 * gy + 0.5 * gz)).max() < 1e-12
    assert (g.from_grid_values(grid) - u).abs().max() < 1e-12


def test_3d_hole_is_masked():
    """The cube with a spherical hole: the mask is the solid, values exact there, zero in the hole."""
    mesh = gmsh_mesh("cube_hole", h=0.3)
    V = fd.FunctionSpace(mesh, "CG", 1)
    g = GridTransfer(V, n=10)
    gz, gy, gx = np.meshgrid(g.z, g.y, g.x, indexing="ij")
    X = mesh.coordinates.dat.data_ro
    c = (X.min(0) + X.max(0)) / 2
    r = np.sqrt((gx - c[0]) ** 2 + (gy - c[1]) ** 2 + (gz - c[2]) ** 2)
    mask = g.mask.numpy()
    assert mask[r > 0.3].all() and not mask[r < 0.2].any()      # the sphere's radius is 0.25 (faceted)
    x, y, z = fd.SpatialCoordinate(mesh)
    vals = g.to_grid_values(_dofs(V, 1 + x + 2 * y - z))[0].numpy()
    assert np.abs(vals[mask] - (1 + gx + 2 * gy - gz)[mask]).max() < 1e-12 and np.all(vals[~mask] == 0)
