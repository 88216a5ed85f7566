"""Periodic RVE meshes: fibre fractions, phases, and periodicity to round-off."""
import firedrake as fd
import numpy as np
import pytest

from spon.mesh import check_periodic_msh, rve_mesh

FRACTIONS = {"fibre": 0.55, "ellipse": 0.19, "three_circles": 0.125}


@pytest.fixture(scope="module")
def rves():
    return {k: rve_mesh(k, 0.05, name=f"rve_{k}") for k in FRACTIONS}


@pytest.mark.parametrize("kind", list(FRACTIONS))
def test_fibre_fraction_and_phases(rves, kind):
    m = rves[kind]
    one = fd.Constant(1.0)
    area = fd.assemble(one * fd.dx(domain=m))
    fibre = fd.assemble(one * fd.dx(2, domain=m))
    matrix = fd.assemble(one * fd.dx(1, domain=m))
    assert abs(area - 1) < 1e-12 and abs(fibre + matrix - 1) < 1e-12
    assert abs(fibre - FRACTIONS[kind]) < 0.01 * 2, (kind, fibre)  # polygonal boundaries: ≤ 2 % off


@pytest.mark.parametrize("kind", list(FRACTIONS))
def test_cg_functions_are_periodic_to_round_off(rves, kind):
    """A CG1 function on the periodic mesh takes equal values on opposite edges."""
    m = rves[kind]
    V = fd.FunctionSpace(m, "CG", 1)
    assert m.coordinates.function_space().ufl_element().family() == "Discontinuous Lagrange"
    assert V.dim() == m.num_vertices() < 3 * m.num_cells()  # no duplicated edge vertices
    rng = np.random.default_rng(0)
    f = fd.Function(V)
    f.dat.data[:] = rng.standard_normal(V.dim())
    s = np.linspace(0.01, 0.99, 25)

    def values(points):
        return np.asarray(fd.PointEvaluator(m, np.array(points)).evaluate(f))

    left, right = values([[1e-12, y] for y in s]), values([[1 - 1e-12, y] for y in s])
    bottom, top = values([[x, 1e-12] for x in s]), values([[x, 1 - 1e-12] for x in s])
    assert np.max(np.abs(left - right)) < 1e-9 and np.max(np.abs(bottom - top)) < 1e-9


def test_non_periodic_mesh_is_refused(tmp_path):
    from spon.mesh import generate_msh
    msh = generate_msh("unit_square", 0.2)
    with pytest.raises(ValueError, match=r"path: .* is not a periodic RVE"):
        check_periodic_msh(msh)


def test_bad_rve_parameters():
    with pytest.raises(ValueError, match=r"kind: expected one of"):
        rve_mesh("hexagons")
    with pytest.raises(ValueError, match=r"fraction: 0.9 makes the central and corner fibres overlap"):
        rve_mesh("fibre", fraction=0.9)
    with pytest.raises(ValueError, match=r"h: expected a mesh size in \(0, 0.5\)"):
        rve_mesh("ellipse", h=0.7)
