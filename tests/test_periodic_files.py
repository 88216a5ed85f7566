"""Periodic RVEs in 3D from gmsh, and cells that are periodic in geometry only (VTU, node/element tables)."""
import numpy as np
import pytest

fd = pytest.importorskip("firedrake")
meshio = pytest.importorskip("meshio")

from spon.mesh import periodic_msh, read_mesh, read_tables, rve3d_mesh, rve3d_msh  # noqa: E402
from spon.multiscale import FiniteStrainRVEProblem, MooneyRivlin, NeoHookean, finite_strain_laminate  # noqa: E402
from spon.multiscale.micro import is_periodic  # noqa: E402

SOFT, STIFF = MooneyRivlin(150.0, 58.5, 4500.0), NeoHookean(2991.8, 2350.7)


@pytest.mark.parametrize("kind,fraction", [("fibre", 0.3), ("particle", 0.2)])
def test_3d_rve_is_periodic_with_its_volume_fraction(kind, fraction):
    mesh = rve3d_mesh(kind, h=0.2)
    assert is_periodic(mesh)
    vol = [fd.assemble(fd.Constant(1.0) * fd.dx(i, domain=mesh)) for i in (1, 2)]
    assert abs(sum(vol) - 1) < 1e-12
    assert abs(vol[1] - fraction) < 0.1 * fraction      # a coarse polyhedral inclusion


def test_vtu_without_links_is_made_periodic(tmp_path):
    """The gmsh cell written as VTU (no $Periodic) gives the same periodic space as the linked file."""
    src = rve3d_msh("particle", h=0.25)
    meshio.write(tmp_path / "cell.vtu", meshio.read(src))
    a, b = read_mesh(tmp_path / "cell.vtu", periodic=True), rve3d_mesh("particle", h=0.25)
    assert is_periodic(a)
    assert fd.VectorFunctionSpace(a, "CG", 2).dim() == fd.VectorFunctionSpace(b, "CG", 2).dim()


def _tables(tmp_path, n=4, perturb=False):
    """EquiNO-style tables: 8-node quadrilaterals on [-0.5, 0.5]², a material id per element
    (2 for x < 0: a laminate), written by hand as CSV."""
    xs = np.linspace(-0.5, 0.5, 2 * n + 1)
    nodes, idx = [], {}
    for j, y in enumerate(xs):
        for i, x in enumerate(xs):
            if i % 2 and j % 2:
                continue
            idx[i, j] = len(nodes) + 1
            nodes.append((len(nodes) + 1, x, y))
    if perturb:
        k = idx[2 * n, 2]          # a node on x = 0.5
        nodes[k - 1] = (k, 0.5, xs[2] + 1e-3)
    els = []
    for J in range(n):
        for I in range(n):
            i, j = 2 * I, 2 * J
            c = [idx[i, j], idx[i + 2, j], idx[i + 2, j + 2], idx[i, j + 2],
                 idx[i + 1, j], idx[i + 2, j + 1], idx[i + 1, j + 2], idx[i, j + 1]]
            els.append([len(els) + 1, *c, 2 if I < n // 2 else 1])
    (tmp_path / "nodes.csv").write_text("id,x,y\n" + "\n".join(f"{a},{float(b)!r},{float(c)!r}" for a, b, c in nodes))
    (tmp_path / "elements.csv").write_text("id,n1,n2,n3,n4,n5,n6,n7,n8,material\n"
                                           + "\n".join(",".join(map(str, e)) for e in els))
    return tmp_path / "nodes.csv", tmp_path / "elements.csv"


def test_quad8_tables_are_read_reduced_and_periodic(tmp_path):
    nodes, elements = _tables(tmp_path)
    m = read_tables(nodes, elements)
    assert m.cells[0].type == "quad8"
    with pytest.warns(UserWarning, match=r"quadratic cells \(quad8\) reduced to their corners"):
        path, report = periodic_msh((nodes, elements))
    assert report["reduced"] == ["quad8"] and report["pairs"] == 9
    mesh = fd.Mesh(str(path))
    assert is_periodic(mesh) and mesh.ufl_cell().cellname == "quadrilateral"
    assert abs(fd.assemble(fd.Constant(1.0) * fd.dx(2, domain=mesh)) - 0.5) < 1e-12


def test_finite_strain_laminate_on_the_table_mesh(tmp_path):
    """The hand-written quadrilateral laminate reproduces the rank-one-connected answer to round-off."""
    with pytest.warns(UserWarning, match="corners"):
        mesh = fd.Mesh(str(periodic_msh(_tables(tmp_path))[0]))
    rve = FiniteStrainRVEProblem(mesh, {1: SOFT, 2: STIFF}, degree=1)
    F = np.array([[1.2, 0.1], [-0.05, 0.9]])
    P, _ = finite_strain_laminate(SOFT, STIFF, 0.5, F)
    assert np.abs(rve.solve(F, tangent=False).stress - P).max() < 1e-10 * np.abs(P).max()


def test_unmatched_node_is_named(tmp_path):
    # node 15 of the table (its own id) lost its partner: node 23, on x = 0.5, moved off y = -0.25
    unmatched = r"is not a periodic RVE: node 15 at \[-0\.5, -0\.25\] .* no partner at \[0\.5, -0\.25\]"
    with pytest.warns(UserWarning, match="corners"), pytest.raises(ValueError, match=unmatched):
        periodic_msh(_tables(tmp_path, perturb=True))


def test_bad_tables(tmp_path):
    (tmp_path / "n.csv").write_text("1,0,0\n2,1,0\n3,0,1\n")
    (tmp_path / "e.csv").write_text("1,1,2,9,1\n")
    with pytest.raises(ValueError, match="node id 9 is not in the node table"):
        read_tables(tmp_path / "n.csv", tmp_path / "e.csv")
    (tmp_path / "e.csv").write_text("1,1,2,3,1,2,1\n")
    with pytest.raises(ValueError, match="5 nodes per element"):
        read_tables(tmp_path / "n.csv", tmp_path / "e.csv")


def test_abaqus_plane_strain_cell_is_read_and_made_periodic(tmp_path):
    """A hand-written Abaqus file: CPE4 elements (which meshio refuses), phases from *SOLID SECTION sets."""
    n = 4
    lines = ["*HEADING", "laminate cell", "*NODE"]
    for j in range(n + 1):
        for i in range(n + 1):
            lines.append(f"{j * (n + 1) + i + 1}, {i / n - 0.5}, {j / n - 0.5}")
    lines.append("*ELEMENT, TYPE=CPE4")
    for j in range(n):
        for i in range(n):
            a = j * (n + 1) + i + 1
            lines.append(f"{j * n + i + 1}, {a}, {a + 1}, {a + n + 2}, {a + n + 1}")
    soft = [j * n + i + 1 for j in range(n) for i in range(n) if i >= n // 2]
    lines += ["*ELSET, ELSET=MATRIX", ", ".join(map(str, soft)),
              "*ELSET, ELSET=FIBRE, GENERATE"] + [f"{j * n + 1}, {j * n + n // 2}, 1" for j in range(n)]
    lines += ["*SOLID SECTION, ELSET=MATRIX, MATERIAL=SOFT", "*SOLID SECTION, ELSET=FIBRE, MATERIAL=STIFF"]
    (tmp_path / "cell.inp").write_text("\n".join(lines) + "\n")
    mesh = read_mesh(tmp_path / "cell.inp", periodic=True)
    assert is_periodic(mesh) and mesh.ufl_cell().cellname == "quadrilateral"
    rve = FiniteStrainRVEProblem(mesh, {1: SOFT, 2: STIFF}, degree=1)
    F = np.array([[1.1, 0.05], [0.0, 0.95]])
    P, _ = finite_strain_laminate(SOFT, STIFF, 0.5, F)
    assert np.abs(rve.solve(F, tangent=False).stress - P).max() < 1e-10 * np.abs(P).max()


def test_3d_file_that_is_not_periodic_is_refused(tmp_path):
    m = meshio.read(rve3d_msh("particle", h=0.3))
    X = m.points.copy()
    i = int(np.flatnonzero((np.abs(X[:, 0] - 1) < 1e-9) & (X[:, 1] > 0.2) & (X[:, 1] < 0.8))[0])
    X[i, 1] += 1e-3
    meshio.write(tmp_path / "bad.vtu", meshio.Mesh(X, m.cells, cell_data=m.cell_data))
    with pytest.raises(ValueError, match="bad.vtu is not a periodic RVE: node"):
        read_mesh(tmp_path / "bad.vtu", periodic=True)
