"""User meshes through meshio: physical groups and periodicity are required."""
import pytest

fd = pytest.importorskip("firedrake")
meshio = pytest.importorskip("meshio")

from spon.mesh import generate_msh, read_mesh, rve_msh  # noqa: E402
from spon.multiscale.micro import is_periodic  # noqa: E402


def test_msh_and_vtu_give_the_same_mesh(tmp_path):
    src = generate_msh("cook_membrane", h=20.0)
    a = read_mesh(src)
    m = meshio.read(src)
    meshio.write(tmp_path / "cook.vtu", meshio.Mesh(m.points, m.cells,
                                                    cell_data={"gmsh:physical": m.cell_data["gmsh:physical"]}))
    b = read_mesh(tmp_path / "cook.vtu")
    assert a.num_cells() == b.num_cells() > 0
    assert sorted(b.exterior_facets.unique_markers) == [1, 2, 3]
    assert abs(fd.assemble(1 * fd.dx(domain=b)) - 0.5 * 44 * 48 - 0.5 * 16 * 48) < 1e-9   # Cook's area


def test_periodic_rve_file_loads_periodic():
    assert is_periodic(read_mesh(rve_msh("ellipse", h=0.1), periodic=True))


def test_mesh_without_physical_groups_is_refused(tmp_path):
    m = meshio.read(generate_msh("cook_membrane", h=20.0))
    meshio.write(tmp_path / "bare.vtu", meshio.Mesh(m.points, m.cells))
    with pytest.raises(ValueError, match="path: .*bare.vtu has no physical groups"):
        read_mesh(tmp_path / "bare.vtu")


def test_non_periodic_file_is_refused_as_rve():
    src = generate_msh("l_shape", h=0.5)
    with pytest.raises(ValueError, match=f"path: {src} is not a periodic RVE"):
        read_mesh(src, periodic=True)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="path: no mesh file"):
        read_mesh(tmp_path / "nope.msh")
    bad = tmp_path / "junk.vtu"
    bad.write_text("not a mesh")
    with pytest.raises(ValueError, match="path: .*junk.vtu is not a mesh meshio can read"):
        read_mesh(bad)
