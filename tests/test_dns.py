"""Direct numerical simulation of tiled RVEs: the tiled mesh, the solver, and FE² against it."""
import numpy as np
import pytest

fd = pytest.importorskip("firedrake")

from spon.mesh import rve_msh, rve_mesh, tile_rve_msh  # noqa: E402
from spon.multiscale import (LawMaterial, LinearElastic, MacroProblem, NonlinearElasticMatrix,  # noqa: E402
                             RVEProblem, equino_materials)
from spon.multiscale.dns import DNSProblem  # noqa: E402
from spon.multiscale.macro import FE2Material  # noqa: E402

RVE_H = 0.25


@pytest.fixture(scope="module")
def tiled():
    return fd.Mesh(str(tile_rve_msh(rve_msh("fibre", h=RVE_H), 2)), name="tiled2")


def test_tiled_mesh_repeats_the_cell_conformingly():
    cell = fd.Mesh(str(rve_msh("fibre", h=RVE_H)))
    n = 3
    mesh = fd.Mesh(str(tile_rve_msh(rve_msh("fibre", h=RVE_H), n)))
    for pid in (1, 2):
        a_cell = fd.assemble(fd.Constant(1.0) * fd.dx(pid, domain=cell))
        assert abs(fd.assemble(fd.Constant(1.0) * fd.dx(pid, domain=mesh)) - n * n * a_cell) < 1e-12
    assert mesh.num_cells() == n * n * cell.num_cells()
    assert sorted(int(i) for i in mesh.exterior_facets.unique_markers) == [1, 2, 3, 4]
    for bid in (1, 2, 3, 4):
        assert abs(fd.assemble(fd.Constant(1.0) * fd.ds(bid, domain=mesh)) - n) < 1e-12
    # a conforming (merged) mesh of a disc-like domain: V - E + F = 1, and no boundary inside
    assert mesh.num_vertices() - mesh.num_edges() + mesh.num_cells() == 1
    assert abs(fd.assemble(fd.Constant(1.0) * fd.ds(domain=mesh)) - 4 * n) < 1e-12


def test_dns_equals_the_macro_solver_when_both_phases_share_a_law(tiled):
    law = NonlinearElasticMatrix()
    dns = DNSProblem(tiled, {1: law, 2: law}, rtol=1e-12, atol=1e-11)
    macro = MacroProblem(tiled, LawMaterial(law), clamped=1, loaded=2, direction=0, rtol=1e-12, atol=1e-11)
    for d in (0.02, 0.04):
        r_dns, r_macro = dns.step(d).reaction, macro.step(d).reaction
        assert abs(r_dns - r_macro) < 1e-8 * abs(r_macro)
    assert len(dns.history[-1].residuals) <= 6       # Newton, from the tangent predictor


def test_dns_of_two_by_two_cells_is_close_to_reference_fe2(tiled):
    mats = equino_materials()
    path = [0.005, 0.01]   # macro strain; the tiled specimen is 2 cells wide
    dns = DNSProblem(tiled, mats)
    r_dns = [s.reaction for s in dns.solve([2 * e for e in path], progress=False)]
    # FE² on the homogenised unit square: the reaction of the 2x2 specimen is twice its own
    macro = MacroProblem(fd.UnitSquareMesh(2, 2), FE2Material(RVEProblem(rve_mesh("fibre", h=RVE_H), mats)),
                         clamped=1, loaded=2, direction=0)
    r_fe2 = [2 * s.reaction for s in macro.solve(path, progress=False)]
    gap = np.abs(np.array(r_dns) - r_fe2) / np.abs(r_fe2)
    assert np.all(gap < 0.08), gap          # 3.5 % measured: scale separation at N = 2 is poor
    assert np.all(np.array(r_dns) > 0)


def test_stress_output_is_the_phase_stress(tiled):
    law = LinearElastic(K=100.0, G=50.0)
    dns = DNSProblem(tiled, {1: law, 2: law}, degree=1)
    dns.step(0.02)
    s = dns.stress_output()
    assert s.dat.data_ro.shape[1] == 3 and np.isfinite(s.dat.data_ro).all()
    assert float(fd.assemble(s[0] * fd.dx)) > 0     # tension along x


def test_bad_inputs(tiled, tmp_path):
    with pytest.raises(ValueError, match="region id 3"):
        DNSProblem(tiled, {**equino_materials(), 3: LinearElastic(1.0, 1.0)})
    with pytest.raises(ValueError, match=r"regions \[2\] have no material"):
        DNSProblem(tiled, {1: LinearElastic(1.0, 1.0)})
    with pytest.raises(ValueError, match="loaded"):
        DNSProblem(tiled, equino_materials(), loaded=7)
    with pytest.raises(ValueError, match="n: expected"):
        tile_rve_msh(rve_msh("fibre", h=RVE_H), 0)
    plain = tmp_path / "plain.msh"
    from spon.mesh import generate_msh
    plain.write_bytes(generate_msh("unit_square", h=0.5).read_bytes())
    with pytest.raises(ValueError, match="not a periodic RVE"):
        tile_rve_msh(plain, 2)
