"""DFG 2D-1 (Schäfer & Turek 1996; U_m = 0.3, Re = 20, steady): drag and lift of the Navier–Stokes
solver against the published values, on three gmsh meshes (cylinder size h/8, wake h/2)::

    python -m benchmarks run dfg_2d1
"""
import time

from spon.data.navier_stokes import DFG_2D1, DFGChannel
from spon.mesh import MeshSpec

from ..harness import section_main


def add_arguments(p):
    p.add_argument("--dfg-h", default="0.08,0.04,0.02",
                   help="gmsh sizes of the three meshes; the second is the learned operators' mesh")


def run(a, out):
    levels = []
    for h in (float(x) for x in a.dfg_h.split(",")):
        t0 = time.perf_counter()
        ch = DFGChannel(MeshSpec("dfg_cylinder", h, 0))
        ch.solve_steady(DFG_2D1["U_m"])
        cd, cl = ch.coefficients()
        levels.append({"h": h, "dofs": ch.dofs, "cells": ch.mesh.num_cells(), "cd": cd, "cl": cl,
                       "cd_rel_err": abs(cd / DFG_2D1["cd"] - 1), "cl_rel_err": abs(cl / DFG_2D1["cl"] - 1),
                       "seconds": time.perf_counter() - t0})
        print("dfg_2d1", levels[-1], flush=True)
    main_level = levels[min(1, len(levels) - 1)]      # the mesh of the learned operators
    return {"reference": DFG_2D1, "method": "Taylor-Hood P2-P1, Newton + MUMPS, forces from the volume integral "
                                            "of the residual against a velocity that is 1 on the cylinder",
            "h": main_level["h"], "dofs": main_level["dofs"], "cd": main_level["cd"], "cl": main_level["cl"],
            "cd_rel_err": main_level["cd_rel_err"], "cl_rel_err": main_level["cl_rel_err"],
            "mesh_convergence": levels,
            "target": {"rel_err_at_most": 0.01,
                       "met": main_level["cd_rel_err"] <= 0.01 and main_level["cl_rel_err"] <= 0.01}}


main = section_main("dfg_2d1", add_arguments, run, __doc__)
