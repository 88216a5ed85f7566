"""The registered benchmark problems: one module each, one row each in :data:`PROBLEMS`.

Every module has ``main(argv)``, which parses its own options, runs, writes its JSON result and
returns it. ``smoke`` are the options of a run in seconds (tiny data, one epoch), used by
``tests/test_benchmarks.py`` so that no benchmark rots unnoticed.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    name: str
    module: str
    result: str                     # the JSON file under benchmarks/results/ (and its section, if shared)
    about: str
    smoke: list = field(default_factory=list)
    needs: tuple = ()               # optional packages (the bench extra)
    entry: str = "main"             # the module's function that runs it

    def main(self, argv=None):
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), self.entry)(argv)


# tiny surrogates that still give the macro Newton a usable tangent
_SURROGATES = ["--adam", "300", "--lbfgs", "30", "--mlp-steps", "300", "--mlp-lbfgs", "30", "--mlp-folds", "2",
               "--mlp-grid", "16x2"]
_TINY = ["--n-train", "4", "--n-test", "2", "--epochs", "1", "--seeds", "1"]
PROBLEMS = {p.name: p for p in [
    Problem("darcy", "darcy", "darcy.json", "Darcy on the square and the L-shape: SPON-MG against FNO, search, "
            "seeds, equal time, data-size curve",
            ["--quick", "--n-train", "4", "--n-val", "2", "--n-test", "2", "--epochs", "1", "--seeds", "0",
             "--sections", "square", "--curve-sizes", "4"], ("neuralop",)),
    Problem("darcy_picard", "darcy_picard", "darcy.json",
            "Darcy with the learned polynomial iteration (coefficient_picard), rows beside darcy.json's FNO",
            ["--n-train", "4", "--n-val", "2", "--n-test", "2", "--seeds", "0", "--optimiser-steps", "1",
             "--pools", "4,4"]),
    Problem("transfer", "transfer", "transfer.json", "a trained SPON-MG on refined and unrelated meshes",
            ["--n-train", "4", "--n-test", "2", "--epochs", "1", "--unrelated-h", "0.3"], ("neuralop",)),
    Problem("hyperelasticity", "hyperelasticity", "spon_paper.json#hyperelasticity",
            "neo-Hookean Cook's membrane under a random body force",
            [*_TINY, "--h", "16", "--grid", "8", "--picard-epochs", "1", "--pool", "6", "--n-val", "2",
             "--hyper-models", "spon_mg,spon_mg_force,fno,picard_exact,spon_picard,spon_picard_hybrid"],
            ("neuralop",)),
    Problem("stokes", "stokes", "spon_paper.json#stokes_divfree", "Stokes velocity, exactly divergence-free",
            [*_TINY, "--stokes-h", "0.5", "--grid", "8", "--stokes-sizes", "4,6", "--n-val", "3",
             "--physics-pool", "6", "--physics-degree", "2"], ("neuralop",)),
    Problem("poisson3d", "poisson3d", "spon_paper.json#poisson3d", "3D Darcy in a cube with a spherical hole",
            [*_TINY, "--h3d", "0.6", "--grid3d", "6", "--n-val", "2"], ("neuralop",)),
    Problem("dfg_2d1", "dfg", "spon_paper.json#dfg_2d1", "the Navier–Stokes solver on DFG 2D-1 (drag and lift)",
            ["--dfg-h", "0.16"]),
    Problem("navier_stokes_steady", "navier_stokes_steady", "spon_paper.json#navier_stokes_steady",
            "steady flow past the DFG cylinder, Re 5–40",
            ["--seeds", "1", "--ns-h", "0.16", "--ns-train", "3", "--ns-test", "2", "--ns-steady-epochs", "1",
             "--ns-grid", "8"], ("neuralop",)),
    Problem("navier_stokes_rollout", "navier_stokes_rollout", "spon_paper.json#navier_stokes_rollout",
            "DFG 2D-2 vortex shedding, learned time steppers rolled out",
            ["--seeds", "1", "--ns-h", "0.16", "--ns-spinup", "2", "--ns-record", "14", "--ns-window", "8",
             "--ns-epochs", "1", "--ns-grid", "8", "--ns-dt", "0.02", "--ns-unroll", "1",
             "--ns-rollout-models", "spon_mg_leapfrog,linear_leapfrog,fno,spon_ls_leapfrog,least_squares",
             "--ns-offsets", "0,2", "--ns-window-curve", "6,8"], ("neuralop",)),
    Problem("poisson_source", "accuracy", "accuracy.json#poisson_source",
            "Poisson source to solution (a linear map): zero, least squares, the linear multigrid processor",
            ["--h", "0.5", "--n-train", "10", "--n-test", "8", "--seeds", "1", "--epochs", "1", "--cycles", "2",
             "--pool", "20", "--n-val", "4",
             "--models", "zero,least_squares,linear_mg_untrained,linear_mg,linear_mg_physics,spon_graph,fno",
             "--grid", "8"], ("neuralop",), entry="poisson_source"),
    Problem("elasticity_source", "accuracy", "accuracy.json#elasticity_source",
            "linear elasticity on Cook's membrane, body force to displacement (a linear map)",
            ["--h", "16", "--n-train", "10", "--n-test", "8", "--seeds", "1", "--epochs", "1", "--cycles", "2",
             "--pool", "20", "--n-val", "4",
             "--models", "zero,least_squares,linear_mg,linear_mg_hybrid,linear_mg_physics"],
            entry="elasticity_source"),
    Problem("elasticity3d", "accuracy", "accuracy.json#elasticity3d",
            "3D linear elasticity on a gmsh bracket, body force to displacement (a linear map)",
            ["--h", "0.6", "--n-train", "10", "--n-test", "8", "--seeds", "1", "--epochs", "1", "--cycles", "2",
             "--n-val", "4", "--grid3d", "6", "--models", "zero,least_squares,linear_mg_untrained,linear_mg,fno"],
            ("neuralop",), entry="elasticity3d"),
    Problem("step_speed", "step_speed", "step_speed.json",
            "training steps per second at equal DOFs: SPON-MG before and after, compiled, linear MG, FNO",
            ["--h", "16", "--batch", "2", "--steps", "1", "--rounds", "1", "--no-compile"], ("neuralop",)),
    Problem("fe2", "fe2", "fe2.json", "FE² on Cook's membrane: reference, EquiNO, σ̄-MLP",
            ["--rve-h", "0.2", "--macro-h", "24", "--steps", "1", "--displacement", "0.02", "--train", "12",
             "--val", "0", "--test", "3", *_SURROGATES, "--skip-ensemble"]),
    Problem("fe2_finite_strain", "fe2_finite_strain", "fe2_finite_strain.json",
            "FE² at finite strain on Cook's membrane: reference, EquiNO, P̄-MLP, least squares",
            ["--rve-h", "0.3", "--n-train", "8", "--n-val", "3", "--n-test", "3", "--adam", "20", "--lbfgs", "10",
             "--modes", "4", "--seeds", "1", "--macro-h", "24", "--load-path", "1,2"]),
    Problem("fe2_3d", "fe2_3d", "fe2_3d.json",
            "FE² in 3D: a gmsh particle RVE at small and finite strain, a 3D bar against reference FE² on 2 ranks",
            ["--rve-h", "0.4", "--macro-rve-h", "0.4", "--n-train", "6", "--n-val", "2", "--n-test", "2",
             "--adam", "10", "--lbfgs", "5", "--modes", "3", "--parts", "cell"]),
    Problem("dns", "dns", "dns.json", "FE² against direct numerical simulation of tiled RVEs",
            ["--ns", "2", "--rve-h", "0.2", "--steps", "1", "--strain", "0.0005", "--macro-h", "1.0", "--train",
             "--train-samples", "12", *_SURROGATES]),
    Problem("dns_finite_strain", "dns_finite_strain", "dns_finite_strain.json",
            "FE² against DNS of tiled RVEs at finite strain (N = 2, 4, 8)",
            ["--ns", "1,2", "--rve-h", "0.3", "--steps", "1", "--strain", "0.02", "--macro-h", "1.0"]),
    Problem("equino_small_strain", "equino_small_strain", "equino_small_strain.json",
            "EquiNO's coefficient form and POD anchors at small strains",
            ["--rve-h", "0.2", "--adam", "300", "--lbfgs", "30", "--seeds", "1", "--n-train", "6", "--n-test", "3",
             "--n-small", "3", "--macro-h", "24", "--load-path", "0.01,0.02"]),
    Problem("datagen", "datagen", "datagen.json", "data generation: spon's reuse against naive solves",
            ["--n", "4", "--h", "0.4", "--refinements", "1"]),
    Problem("physics", "physics", "physics.json", "the adjoint bridge's cost on a Darcy residual",
            ["--h", "0.3", "--refinements", "1", "--repeats", "1"]),
    Problem("scaling", "scaling", "scaling.json", "training cost against mesh size, and two DDP ranks",
            ["--refinements", "1,2", "--samples", "4", "--epochs", "1", "--parts", "sizes"]),
]}
