"""Small settings for the demos and how-tos when the docs build runs them.

As scripts they run with their full defaults; the gallery runs each with the
arguments below (``sphinx_gallery_conf["reset_argv"]``), so the pages stay true
and the build stays within minutes. Outputs go under ``doc/_build/gallery_out``.
"""
from pathlib import Path

OUT = Path(__file__).resolve().parent / "_build" / "gallery_out"

SMALL = {
    "poisson_mlp": ["--h", "0.1", "--n-train", "100", "--n-test", "20", "--epochs", "200", "--width", "128"],
    "divergence_free": ["--h", "0.08"],
    "darcy_mg": ["--h", "0.2", "--n-train", "48", "--n-test", "8", "--epochs", "6", "--width", "16"],
    "physics_darcy": ["--h", "0.3", "--n-train", "24", "--n-test", "6", "--epochs", "4", "--labelled", "6"],
    "inverse_conductivity": ["--h", "0.1", "--iterations", "15"],
    "rve_homogenisation": ["--h", "0.1"],
    "equino_training": ["--h", "0.1", "--train", "30", "--test", "10", "--adam", "300", "--lbfgs", "50",
                        "--mlp-steps", "300", "--mlp-lbfgs", "50", "--mlp-folds", "2"],
    "fe2_cook": ["--rve-h", "0.1", "--macro-h", "24", "--steps", "2", "--displacement", "1.0", "--adam", "300",
                 "--lbfgs", "50"],
    "fe2_finite_strain": ["--rve-h", "0.2", "--macro-h", "24", "--displacement", "6", "--steps", "2",
                          "--n-train", "20", "--adam", "200", "--lbfgs", "40"],
    "hyperelasticity": ["--h", "8.0", "--refinements", "1", "--n-train", "60", "--n-test", "10", "--epochs", "8"],
    "navier_stokes_dfg": ["--h", "0.08", "0.04", "--shedding-steps", "250"],
    # how-to guides
    "byo_mesh_spaces": ["--n", "40", "--epochs", "10"],
    "fe2_own_rve": ["--h", "0.08", "--macro-h", "24"],
    "physics_only": ["--epochs", "15"],
}


class SmallSettings:
    """``reset_argv`` of sphinx-gallery: the argv (after the script name) of one example."""

    def __call__(self, gallery_conf, script_vars):
        name = Path(script_vars["src_file"]).stem
        return SMALL.get(name, []) + ["--out", str(OUT / name)]

    def __repr__(self):   # sphinx-gallery caches the configuration by its repr
        return f"SmallSettings({SMALL!r})"
